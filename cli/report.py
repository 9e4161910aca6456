"""`gameday report`, `play`, `note` and (from chaos.cli.stop) `stop`: reports and game-day mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from chaos.gameday.errors import GamedayError, PlanError
from chaos.gameday.notes import stamp_note

if TYPE_CHECKING:
    from chaos.cli.run_view import LiveView

# The report modules pull in matplotlib (~1 s): imported inside the commands that render,
# so `gameday --help`, `gameday note` and every other command start fast.
DEFAULT_FORMATS = "md,html,junit"

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def report_command(
    run_dir: Path = typer.Argument(
        ..., help="A run folder (runs/<UTC time>-<slug>/) or a game-day folder."
    ),
    formats: str = typer.Option(
        DEFAULT_FORMATS,
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
    stream), so a report can be rendered again at any time. A game-day folder (written by
    `gameday play`) gets the combined report: an index of verdicts, then each experiment.
    Exits 0 when written, 2 when the folder cannot be read or a format is unknown.
    """
    from chaos.report import ReportError, parse_formats, write_reports
    from chaos.report.gameday import is_gameday_folder, write_gameday_reports

    try:
        chosen = parse_formats(formats)
    except ValueError as exc:
        err_console.print(f"[red]error:[/] --format: {exc}")
        raise typer.Exit(2) from exc
    try:
        if is_gameday_folder(run_dir):
            written = write_gameday_reports(run_dir, chosen, out_dir)
        else:
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


class ConsoleFacilitator:
    """The facilitator's view of `gameday play`: instructions, Enter prompts, countdowns."""

    def say(self, text: str) -> None:
        console.print(Panel(text.strip(), border_style="cyan", expand=False))

    def wait_for_enter(self, prompt: str) -> None:
        try:
            console.input(f"[bold]{prompt}[/] ")
        except EOFError:
            # No terminal to press Enter in (input redirected): go on rather than hang.
            console.print("(no input to wait for: continuing)")

    @contextmanager
    def watching(self) -> Iterator[LiveView]:
        """The same live view as `gameday run`, for the experiment now running."""
        from chaos.cli.run_view import LiveView

        view = LiveView(console, live=console.is_terminal)
        try:
            yield view
        finally:
            view.stop()

    def sleep(self, seconds: float, label: str) -> None:
        deadline = time.monotonic() + seconds
        with console.status("") as status:
            while (left := deadline - time.monotonic()) > 0:
                status.update(f"{label}: {left:.0f} s left (Ctrl-C stops the game day)")
                time.sleep(min(1.0, left))


def play_command(
    plan: Path = typer.Argument(..., help="A game-day plan, e.g. gamedays/shop-checkout.yaml."),
    step: bool = typer.Option(
        False, "--step", help="Wait for Enter before each experiment (default: run straight on)."
    ),
    runs_dir: Path = typer.Option(
        Path("runs"), "--runs-dir", help="Where the game-day folder and run folders go."
    ),
    with_console: bool = typer.Option(
        False,
        "--console",
        help="Serve the game-day console (a web page) for the team; with --step its "
        "facilitator's Next step starts the next experiment too.",
    ),
    console_bind: str = typer.Option(
        "127.0.0.1",
        "--console-bind",
        help="Address of the console (default 127.0.0.1; any other needs its tokens).",
    ),
    console_port: int = typer.Option(0, "--console-port", min=0, max=65535, help="Its port."),
) -> None:
    """Run a game day: the plan's experiments in order under one continuous load.

    Starts (or attaches to) the mesh and one shared load, then for each step shows the
    facilitator's instructions, runs the experiment (each gets its own run folder and
    report), and pauses as the plan says. Observers add notes with `gameday note "text"`.
    Writes one combined report into runs/<UTC time>-gameday-<slug>/. Exit code: 0 when every
    experiment held, 1 deviated / 3 aborted / 4 could not run (the first experiment that did
    not hold decides), 3 when interrupted (or stopped by `gameday stop`), 2 when the plan or an
    experiment is invalid, 4 without starting while `gameday stop` holds the runs folder.
    """
    from chaos.engine.runs_folder import RunsFolderUnusable
    from chaos.experiment import ExperimentError
    from chaos.gameday.plan import load_plan
    from chaos.gameday.runner import PlayOptions, play
    from chaos.safety.runner_registry import RegistryError
    from chaos.safety.stop_hold import EmergencyStopActive

    try:
        loaded = load_plan(plan)
    except (PlanError, ExperimentError) as exc:
        err_console.print(f"[red]invalid game-day plan:[/]\n{exc}")
        raise typer.Exit(2) from exc
    facilitator = ConsoleFacilitator()
    served: AbstractContextManager[None] = nullcontext()
    if with_console:
        from chaos.cli.console import BrowserFacilitator, console_beside_run

        facilitator = BrowserFacilitator(runs_dir)
        served = console_beside_run(runs_dir, console_bind, console_port)
    try:
        with served:
            result = play(loaded, PlayOptions(runs_dir=runs_dir, step=step), facilitator)
    except (EmergencyStopActive, RegistryError, RunsFolderUnusable) as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(4) from exc
    table = Table(title=f"Game day: {loaded.plan.title}")
    for column in ("#", "experiment", "verdict", "exit", "run folder"):
        table.add_column(column)
    for outcome in result.steps:
        table.add_row(
            str(outcome.index + 1),
            outcome.title,
            outcome.verdict,
            "–" if outcome.exit_code is None else str(outcome.exit_code),
            str(outcome.run_dir or "–"),
        )
    console.print(table)
    for path in result.reports:
        console.print(f"wrote {path}")
    console.print(
        f"{result.verdict} (exit {result.exit_code}){': ' + result.reason if result.reason else ''}"
    )
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    """Add `report`, `play`, `note` and `stop` to the top level of `gameday`."""
    from chaos.cli.gates import command_help
    from chaos.cli.stop import stop_command

    commands = (
        ("report", report_command),
        ("play", play_command),
        ("note", note_command),
        ("stop", stop_command),
    )
    __import__("chaos.cli.console", fromlist=["register"]).register(app)
    for name, func in commands:
        app.command(name, help=command_help(func))(func)
