"""`gameday report`, `gameday play` and `gameday note`: reports and game-day mode."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from chaos.gameday.errors import GamedayError
from chaos.gameday.notes import stamp_note
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


def note_command(
    text: str = typer.Argument(..., help="What you observed, in quotes."),
    runs_dir: Path = typer.Option(
        Path("runs"), "--runs-dir", help="The runs folder of the run in progress."
    ),
    author: str = typer.Option(
        None, "--author", "-a", help="Who noted it (default: your login name)."
    ),
) -> None:
    """Stamp an observer's note into the timeline of the run in progress.

    Run it from another terminal while `gameday run` or `gameday play` is going; the note
    appears on the report's chart (N1, N2, …) and in its Notes section. Exits 2 when no run
    is in progress under --runs-dir (default runs).
    """
    try:
        run_dir, event = stamp_note(runs_dir, text, author)
    except GamedayError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"noted in {run_dir.name} at {event['ts']:.3f}")


def register(app: typer.Typer) -> None:
    """Add `report`, `play` and `note` to the top level of `gameday`."""
    from cli.gates import command_help

    for name, func in (("report", report_command), ("note", note_command)):
        app.command(name, help=command_help(func))(func)
