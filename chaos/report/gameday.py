"""The combined report of a game day: an index of every experiment's verdict, then each
experiment's section, rendered from the game-day folder's `gameday.json` and timeline and
from each step's own run folder."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from chaos.report.build import build_report
from chaos.report.chart import render_svg, write_png
from chaos.report.errors import ReportError
from chaos.report.experiment_info import parse_time
from chaos.report.junit import junit_suite, junit_xml
from chaos.report.model import VERDICT_MEANINGS, Note, Report
from chaos.report.render import CHART_DIR, template_environment, write_formats
from chaos.report.run_folder import read_json, read_jsonl

GAMEDAY_FILE = "gameday.json"
GAMEDAY_MEANINGS = {
    "held": "every experiment's steady state held",
    "deviated": "at least one experiment deviated from its steady state",
    "aborted": "the game day was stopped early; every fault was rolled back",
    "could_not_run": "the game day could not run (the target or the load did not start, or "
    "an experiment could not run)",
}


class GamedayStep(BaseModel):
    index: int
    experiment: str
    title: str
    instructions: str = ""
    run_dir: str | None = None
    run_link: str | None = Field(None, description="The run folder, relative to the report.")
    verdict: str = "not_run"
    exit_code: int | None = None
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None


class GamedayReport(BaseModel):
    gameday_dir: str
    title: str
    description: str = ""
    plan: str = ""
    facilitation: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    verdict: str
    exit_code: int
    meaning: str
    reason: str | None = None
    steps: list[GamedayStep]
    reports: dict[int, Report] = Field(default_factory=dict)
    notes: list[Note] = Field(default_factory=list)


def is_gameday_folder(path: Path) -> bool:
    return (path / GAMEDAY_FILE).is_file()


def build_gameday_report(gameday_dir: Path, report_dir: Path | None = None) -> GamedayReport:
    """Links in the report are relative to `report_dir` (the game-day folder by default)."""
    report_dir = report_dir or gameday_dir
    summary = read_json(gameday_dir / GAMEDAY_FILE, required=True)
    try:
        steps = [GamedayStep.model_validate(step) for step in summary.get("steps") or []]
    except ValueError as exc:
        raise ReportError(gameday_dir / GAMEDAY_FILE, f"steps: {exc}") from exc
    reports: dict[int, Report] = {}
    for step in steps:
        if not step.run_dir:
            continue
        run_dir = Path(step.run_dir)
        if not run_dir.is_absolute():
            run_dir = gameday_dir / run_dir
        step.run_link = os.path.relpath(run_dir.resolve(), report_dir.resolve())
        if (run_dir / "summary.json").is_file():
            reports[step.index] = build_report(run_dir, report_dir=report_dir)
    started = parse_time(summary.get("started_at"))
    verdict = str(summary.get("verdict", "could_not_run"))
    return GamedayReport(
        gameday_dir=str(gameday_dir),
        title=str(summary.get("title", gameday_dir.name)),
        description=str(summary.get("description") or ""),
        plan=str(summary.get("plan") or ""),
        facilitation=_link(summary.get("facilitation"), report_dir),
        started_at=started,
        ended_at=parse_time(summary.get("ended_at")),
        verdict=verdict,
        exit_code=int(summary.get("exit_code", 4)),
        meaning=GAMEDAY_MEANINGS.get(verdict, VERDICT_MEANINGS.get(verdict, "unknown")),
        reason=summary.get("reason") or None,
        steps=steps,
        reports=reports,
        notes=_notes(read_jsonl(gameday_dir / "timeline.jsonl"), started),
    )


def _link(path: Any, base: Path) -> str | None:
    if not path:
        return None
    return os.path.relpath(Path(str(path)).resolve(), base.resolve())


def _notes(timeline: list[dict[str, Any]], started: float | None) -> list[Note]:
    notes = [
        e for e in timeline if e.get("kind") == "note" and isinstance(e.get("ts"), int | float)
    ]
    t0 = started if started is not None else min((float(e["ts"]) for e in notes), default=0.0)
    return [
        Note(
            number=number,
            ts=float(event["ts"]),
            offset_s=round(float(event["ts"]) - t0, 3),
            text=str(event.get("text", "")),
            author=str(event.get("author") or ""),
        )
        for number, event in enumerate(notes, start=1)
    ]


def write_gameday_reports(
    gameday_dir: Path,
    formats: Iterable[str] = ("md", "html", "junit"),
    out_dir: Path | None = None,
) -> list[Path]:
    """Render the combined report into `out_dir` (the game-day folder by default); returns
    the files written."""
    out_dir = out_dir or gameday_dir
    report = build_gameday_report(gameday_dir, report_dir=out_dir)

    def render(fmt: str, written: list[Path]) -> str:
        if fmt == "md":
            charts = {}
            for index, step_report in report.reports.items():
                chart = write_png(step_report, out_dir / CHART_DIR / f"step-{index}.png")
                written.append(chart)
                charts[index] = chart.relative_to(out_dir).as_posix()
            template = template_environment(autoescape=False).get_template("gameday.md.j2")
            return template.render(g=report, charts=charts)
        if fmt == "html":
            svgs = {
                index: render_svg(step_report, chart_id=f"step{index}")
                for index, step_report in report.reports.items()
            }
            template = template_environment(autoescape=True).get_template("gameday.html.j2")
            return template.render(g=report, charts=svgs)
        return junit_xml([junit_suite(r) for r in report.reports.values()])

    return write_formats(out_dir, formats, render)
