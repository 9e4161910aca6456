"""`gameday report`, `gameday play` and `gameday note`: reports and game-day mode."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from chaos.report import FORMATS, ReportError, parse_formats, write_reports

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def report_command(
    run_dir: Path = typer.Argument(..., help="A run folder, runs/<UTC time>-<slug>/."),
    formats: str = typer.Option(
        ",".join(FORMATS),
        "--format",
        "-f",
        help="Comma-separated formats: md (report.md + charts/timeline.png), html (one "
        "self-contained report.html), junit (junit.xml).",
    ),
    out_dir: Path = typer.Option(
        None, "--out", "-o", help="Where to write the files (default: the run folder itself)."
    ),
) -> None:
    """Render the game-day report of a run folder.

    Everything comes from the run folder alone (summary, timeline, ledger, journal and load
    stream), so a report can be rendered again at any time. Exits 0 when written, 2 when the
    folder cannot be read or a format is unknown.
    """
    try:
        chosen = parse_formats(formats)
    except ValueError as exc:
        err_console.print(f"[red]error:[/] --format: {exc}")
        raise typer.Exit(2) from exc
    try:
        written = write_reports(run_dir, chosen, out_dir)
    except ReportError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    for path in written:
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add `report`, `play` and `note` to the top level of `gameday`."""
    from cli.gates import command_help

    app.command("report", help=command_help(report_command))(report_command)
