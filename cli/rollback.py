"""`gameday rollback`: undo what ledgers still list, name damaged lines, forget entries."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from chaos.safety.ledger import (
    DamagedLine,
    Ledger,
    LedgerEntry,
    LedgerError,
    NotOutstanding,
    UnknownEntry,
)
from chaos.safety.rollback import RollbackReport, find_ledgers, rollback_outstanding

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DEFAULT_RUNS_DIR = Path("runs")
EXIT_INVALID = 2
EXIT_COULD_NOT_RUN = 4


def _say_damaged(line: DamagedLine) -> None:
    if line.torn:
        err_console.print(
            f"[yellow]skipped torn ledger line[/] {line.location}: {line.reason}; a line cut "
            "short mid-write is never the only record of an applied fault.",
            highlight=False,
        )
    elif line.known_entry:
        err_console.print(
            f"[yellow]damaged ledger line[/] {line.location}: {line.reason}; its entry "
            f"{line.entry_id} is known from its other lines (and was undone again if this "
            "was its latest line).",
            highlight=False,
        )
    else:
        err_console.print(
            f"[bold red]unreadable ledger line[/] {line.location}: {line.reason}. It may "
            f"record a fault that is still applied. Inspect it with `sed -n "
            f"{line.line_no}p {line.path}`; if it names a fault that is still in place, "
            "undo that fault by hand, then stop this warning with `gameday rollback "
            f"{line.path} --forget {line.forget_id}`.",
            highlight=False,
        )


def _print_report(report: RollbackReport) -> None:
    for entry in report.undone:
        console.print(f"[green]undone[/] {entry.kind} on {entry.target} ({entry.id})")
    for failure in report.failures:
        err_console.print(f"[bold red]undo failed[/] {failure}", highlight=False)
    for error in report.errors:
        err_console.print(f"[bold red]ledger not usable[/]: {error}", highlight=False)
    for line in report.damaged:
        _say_damaged(line)
    if not report.undone and report.ok:
        console.print(f"nothing outstanding in {len(report.ledgers)} ledger(s)")
    if not report.ok:
        err_console.print(
            "[bold red]something may still be applied[/]: see the lines above.", highlight=False
        )


def _forget(entry_id: str, ledgers: list[Path]) -> None:
    found: list[tuple[Ledger, LedgerEntry | DamagedLine]] = []
    for path in ledgers:
        ledger = Ledger(path)
        try:
            found.append((ledger, ledger.forgettable(entry_id)))
        except UnknownEntry:
            continue
        except NotOutstanding as exc:
            err_console.print(f"[bold red]cannot forget[/]: {exc}", highlight=False)
            raise typer.Exit(EXIT_INVALID) from None
        except LedgerError as exc:
            err_console.print(f"[bold red]ledger not usable[/]: {exc}", highlight=False)
            raise typer.Exit(EXIT_COULD_NOT_RUN) from None
    if not found:
        searched = ", ".join(str(path) for path in ledgers) or "none found"
        err_console.print(
            f"[bold red]cannot forget[/]: no outstanding entry or damaged line {entry_id!r} in "
            f"the ledgers searched ({searched}).",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID)
    if len(found) > 1:
        where = ", ".join(str(ledger.path) for ledger, _ in found)
        err_console.print(
            f"[bold red]cannot forget[/]: {entry_id!r} is in several ledgers ({where}); name "
            f"one: `gameday rollback LEDGER --forget {entry_id}`.",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID)
    ledger, dropped = found[0]
    if isinstance(dropped, LedgerEntry):
        console.print(
            f"forgetting {dropped.kind} on {dropped.target} ({dropped.id}, {dropped.status}) "
            f"in {ledger.path}: its undo {dropped.undo} will not be called, so if the fault "
            "is still applied it stays applied.",
            highlight=False,
        )
    else:
        console.print(
            f"forgetting damaged line {dropped.location}: {dropped.text}",
            highlight=False,
            markup=False,
        )
    try:
        ledger.forget(entry_id)
    except LedgerError as exc:
        err_console.print(f"[bold red]not forgotten[/]: {exc}", highlight=False)
        raise typer.Exit(EXIT_COULD_NOT_RUN) from None
    console.print(f"[green]forgotten[/] {entry_id} in {ledger.path}", highlight=False)


def rollback_command(
    run_dir: Path | None = typer.Argument(
        None,
        help="A run folder or a ledger file; default: every run folder's ledger and the "
        "default ledger.",
    ),
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="Where run folders are. [default: runs]"
    ),
    forget: str | None = typer.Option(
        None,
        "--forget",
        metavar="ID",
        help="Drop one outstanding entry (or damaged line `line:N`) without undoing it: "
        "it prints what it drops, then records it as forgotten.",
    ),
) -> None:
    """Undo every fault a ledger says is still applied (after a crash or SIGKILL).

    Calls each readable outstanding fault's recorded undo, newest first, and records it as
    undone; a damaged ledger line never stops the others. Then names every damaged line
    (file:line, what is wrong) and whether it may hide a fault still applied. Exit code 0
    when nothing may be left applied; 2 when RUN_DIR or --runs-dir does not exist or
    --forget names nothing outstanding; 4 when an undo failed, a ledger is unusable or a
    damaged line may hide an applied fault.
    """
    if run_dir is not None and not run_dir.exists():
        err_console.print(
            f"[bold red]no run folder or ledger file[/] {run_dir}: give a run folder "
            "(runs/<UTC time>-<slug>/) or a ledger.jsonl.",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID)
    if runs_dir is not None and not runs_dir.is_dir():
        # A mistyped folder must not read as "nothing outstanding".
        err_console.print(
            f"[bold red]no runs folder[/] {runs_dir}: nothing was searched or undone.",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID)
    ledgers = find_ledgers(run_dir, runs_dir or DEFAULT_RUNS_DIR)
    if forget is not None:
        _forget(forget, ledgers)
        raise typer.Exit(0)
    report = rollback_outstanding(ledgers)
    _print_report(report)
    raise typer.Exit(0 if report.ok else EXIT_COULD_NOT_RUN)
