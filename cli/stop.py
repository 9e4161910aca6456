"""`gameday stop`: the emergency stop of every runner under a runs folder."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from chaos.cli.params import DURATION
from chaos.safety.emergency_stop import StopReport, emergency_stop
from chaos.safety.stop_hold import clear_hold

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# could not run: something may still be applied, or new runs are not refused
EXIT_INCOMPLETE = 4
OUTCOME_STYLE = {
    "stopped": "green",
    "killed": "yellow",
    "already gone": "dim",
    "still running": "bold red",
}


def _print_report(report: StopReport, grace_s: float) -> None:
    if report.hold is not None:
        console.print(f"[bold red]emergency stop[/]: {report.hold.describe()}", highlight=False)
    else:
        err_console.print(
            f"[bold red]emergency stop without a hold[/]: {report.hold_problem}; new runs are "
            "not refused",
            highlight=False,
        )
    if not report.runners:
        console.print("no registered runner was running")
    for outcome in report.runners:
        runner = outcome.runner
        style = OUTCOME_STYLE[outcome.outcome]
        how = {
            "stopped": f"rolled back after SIGTERM (done within {outcome.seconds:.1f} s)",
            "killed": f"not done {grace_s:g} s after SIGTERM: SIGKILLed with its children",
            "already gone": "its process was already gone",
            "still running": "survived SIGKILL",
        }[outcome.outcome]
        console.print(
            f"[{style}]{outcome.outcome}[/] {runner.kind} pid {runner.pid} "
            f"{runner.run_dir or ''}: {how}",
            highlight=False,
        )
    for entry in report.undone:
        console.print(
            f"[green]undone[/] {entry.kind} on {entry.target} ({entry.id})", highlight=False
        )
    for failure in report.failures:
        err_console.print(f"[bold red]undo failed[/] {failure}", highlight=False)
    for problem in report.unreadable:
        err_console.print(f"[bold red]ledger unreadable[/] {problem}", highlight=False)
    if report.may_still_be_applied:
        err_console.print(
            "[bold red]a fault may still be applied[/]: fix what is named above, then run "
            "`gameday rollback`",
            highlight=False,
        )
    else:
        console.print(
            f"nothing left applied ({len(report.ledgers)} ledger(s) checked)", highlight=False
        )


def stop_command(
    runs_dir: Path = typer.Option(
        Path("runs"), "--runs-dir", help="The runs folder whose runners to stop."
    ),
    hold_s: float | None = typer.Option(
        None,
        "--hold",
        parser=DURATION,
        help="Refuse new runs for this long, e.g. 30m or 2h (default: until --clear).",
    ),
    grace_s: float = typer.Option(
        "30s",
        "--grace",
        parser=DURATION,
        help="How long a runner gets to roll back after SIGTERM before it is SIGKILLed.",
    ),
    clear: bool = typer.Option(
        False, "--clear", help="Lift the hold of an earlier stop: runs may start again."
    ),
) -> None:
    """Emergency stop: halt every run, game day and monkey under the runs folder.

    Every `gameday run`, `play` and `monkey` registered under --runs-dir gets SIGTERM and
    rolls back as on Ctrl-C; one that has not finished its rollbacks within --grace (hung)
    is SIGKILLed with the processes it started (its TTL watchdogs are spared). Then every
    outstanding entry of every ledger they knew of (each run folder's, the default and
    GAMEDAY_LEDGER) is undone, and no `run`, `play`, `monkey` or `demo` may start under the
    runs folder (exit 4) until `gameday stop --clear` or the --hold time passes. Prints what
    it stopped and undid. Exit code 0 when nothing may still be applied, 4 when an undo
    failed, a ledger could not be read, a runner survived or the hold could not be written,
    2 for bad options.
    """
    if clear:
        if hold_s is not None:
            raise typer.BadParameter(
                "--clear lifts a hold; it takes no --hold", param_hint="--hold"
            )
        lifted = clear_hold(runs_dir)
        if lifted is None:
            console.print(f"no emergency stop was holding {runs_dir}", highlight=False)
        else:
            console.print(f"cleared: runs may start under {runs_dir} again", highlight=False)
        return
    report = emergency_stop(
        runs_dir,
        hold_until=None if hold_s is None else time.time() + hold_s,
        grace_s=grace_s,
    )
    _print_report(report, grace_s)
    raise typer.Exit(0 if report.complete else EXIT_INCOMPLETE)
