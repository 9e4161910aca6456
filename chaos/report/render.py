"""Render a `Report` to Markdown (PNG chart beside it), self-contained HTML (inline SVG
chart) and JUnit XML, from the Jinja2 templates shipped in this package."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from chaos.report.build import build_report
from chaos.report.chart import render_svg, write_png
from chaos.report.errors import ReportError
from chaos.report.formatting import FILTERS
from chaos.report.junit import junit_suite, junit_xml
from chaos.report.model import Report

FORMATS = ("md", "html", "junit")
FILE_NAMES = {"md": "report.md", "html": "report.html", "junit": "junit.xml"}
CHART_DIR = "charts"
CHART_FILE = "timeline.png"


def template_environment(autoescape: bool) -> Environment:
    environment = Environment(
        loader=PackageLoader("chaos.report", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    environment.filters.update(FILTERS)
    return environment


def parse_formats(text: str | Iterable[str]) -> list[str]:
    """`"md,html"` or `["md", "html"]` → validated list; raises ValueError naming the bad one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = [item.strip().lower() for item in items if item.strip()]
    unknown = [item for item in formats if item not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"unknown report format {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(FORMATS)}"
        )
    return list(dict.fromkeys(formats))


def render_markdown(report: Report, chart_path: str) -> str:
    template = template_environment(autoescape=False).get_template("report.md.j2")
    return template.render(r=report, chart_path=chart_path)


def render_html(report: Report) -> str:
    template = template_environment(autoescape=True).get_template("report.html.j2")
    return template.render(r=report, chart_svg=render_svg(report, chart_id=report.run_name))


def render_junit(report: Report) -> str:
    return junit_xml([junit_suite(report)])


def write_reports(
    run_dir: Path, formats: Iterable[str] = FORMATS, out_dir: Path | None = None
) -> list[Path]:
    """Render the run folder's report in each format into `out_dir` (the run folder by
    default); returns the files written. Raises `ReportError`."""
    out_dir = out_dir or run_dir
    report = build_report(run_dir, report_dir=out_dir)

    def render(fmt: str, written: list[Path]) -> str:
        if fmt == "md":
            chart = write_png(report, out_dir / CHART_DIR / CHART_FILE)
            written.append(chart)
            return render_markdown(report, chart.relative_to(out_dir).as_posix())
        if fmt == "html":
            return render_html(report)
        return render_junit(report)

    return write_formats(out_dir, formats, render)


def write_formats(
    out_dir: Path, formats: Iterable[str], render: Callable[[str, list[Path]], str]
) -> list[Path]:
    """Write `render(fmt, written)` to each format's file in `out_dir`; `render` appends any
    file it writes itself (a chart) to `written`. Returns the files written. Raises
    `ReportError`."""
    written: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for fmt in parse_formats(formats):
            text = render(fmt, written)
            path = out_dir / FILE_NAMES[fmt]
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise ReportError(out_dir, f"cannot write the report: {exc}") from exc
    return written
