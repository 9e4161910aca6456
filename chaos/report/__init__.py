"""Game-day reports: a run folder → a report model → Markdown, HTML and JUnit XML."""

from chaos.report.build import build_report
from chaos.report.errors import ReportError
from chaos.report.model import Report
from chaos.report.render import (
    FORMATS,
    parse_formats,
    render_html,
    render_junit,
    render_markdown,
    write_reports,
)

__all__ = [
    "FORMATS",
    "Report",
    "ReportError",
    "build_report",
    "parse_formats",
    "render_html",
    "render_junit",
    "render_markdown",
    "write_reports",
]
