"""`gameday verify FILE --repeat N`: is an incident's fix reliable, or only lucky once?"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chaos.cli.gates import VERDICT_STYLE
from chaos.cli.params import MARGIN
from chaos.cli.run import RUNS_DIR_HELP, VAR_FILE_HELP, VAR_HELP, execute
from chaos.engine import RunResult
from chaos.engine.runs_folder import RunsFolderUnusable, check_runs_dir
from chaos.experiment import parse_var
from chaos.gates import GateError, append_run, read_run_metrics, verify, write_step_summary
from chaos.gates.step_summary import render_verify_summary
from chaos.gates.verify import VerifyRun

console = Console()
err_console = Console(stderr=True)


def verify_command(
    file: Path = typer.Argument(..., help="Experiment file, e.g. one from `gameday incident new`."),
    repeat: int = typer.Option(3, "--repeat", "-n", min=1, max=100, help="How many runs."),
    required: float = typer.Option(
        "100%",
        "--min-pass-rate",
        parser=MARGIN,
        help="Pass rate needed to exit 0, e.g. 100% or 0.8.",
    ),
    var: list[str] = typer.Option([], "--var", help=VAR_HELP),
    var_file: list[Path] = typer.Option([], "--var-file", help=VAR_FILE_HELP),
    target: str | None = typer.Option(
        None, "--target", help="local, mesh (a running one) or k8s[:CONTEXT], as for `run`."
    ),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help=RUNS_DIR_HELP),
    no_live: bool = typer.Option(False, "--no-live", help="Print events as lines."),
) -> None:
    """Run an experiment N times and report how often the steady state held.

    Every run counts and none is retried, so a fix that holds 2 times out of 3 shows up as
    flaky instead of closing the incident on a lucky run. Each run gets its own run folder
    and history line; with GITHUB_STEP_SUMMARY set, a Markdown table goes there. Exits 0
    when the pass rate reaches --min-pass-rate, 1 when it does not, 2 on invalid input, 4
    when the runs folder cannot hold a run (nothing is started).
    """
    if required > 1:
        raise typer.BadParameter("a pass rate is at most 100%", param_hint="--min-pass-rate")
    values = {}
    for text in var:
        try:
            key, value = parse_var(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--var") from None
        values[key] = value
    try:
        check_runs_dir(runs_dir)
    except RunsFolderUnusable as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(4) from exc

    def run_once(path: Path) -> RunResult:
        result = execute(path, values, list(var_file), target, False, runs_dir, not no_live)
        if result.run_dir is not None:
            try:
                append_run(result.run_dir, path, runs_dir)
            except GateError as exc:
                err_console.print(f"[yellow]run history not updated:[/] {exc}", highlight=False)
        return result

    def announce(run: VerifyRun) -> None:
        style = VERDICT_STYLE.get(run.verdict, "")
        console.print(
            f"run {run.attempt}/{repeat}: [{style}]{run.verdict}[/] (exit {run.exit_code}) "
            f"{run.run_dir}",
            highlight=False,
        )

    report = verify(file, repeat, run_once, required_pass_rate=required, on_run=announce)
    console.print(_table(report.runs))
    summary = f"{report.passes}/{len(report.runs)} held ({report.pass_rate:.0%})"
    if report.ok:
        console.print(f"[bold green]{summary}[/]: the fix holds")
    elif report.flaky:
        console.print(f"[bold yellow]flaky: {summary}[/], needed {required:.0%}")
    else:
        console.print(f"[bold red]{summary}[/], needed {required:.0%}")
    write_step_summary(render_verify_summary(report))
    raise typer.Exit(0 if report.ok else 1)


def _table(runs: list[VerifyRun]) -> Table:
    table = Table(title="verify")
    for column in ("run", "verdict", "exit", "p95 under fault", "time to recover", "run folder"):
        table.add_column(column, justify="right" if column in ("run", "exit") else "left")
    for run in runs:
        try:
            metrics = read_run_metrics(Path(run.run_dir))
            p95, ttr = metrics.p95_under_fault_ms, metrics.time_to_recover_s
        except GateError:
            p95 = ttr = None
        table.add_row(
            str(run.attempt),
            Text(run.verdict, style=VERDICT_STYLE.get(run.verdict, "")),
            str(run.exit_code),
            "–" if p95 is None else f"{p95:,.1f} ms",
            "–" if ttr is None else f"{ttr:,.1f} s",
            run.run_dir,
        )
    return table
