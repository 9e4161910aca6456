"""What the console's buttons do, each exactly as its command does: a note as `gameday
note`, next step as Enter under `gameday play --step`, emergency stop as `gameday stop`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.console.advance import is_awaiting, request_advance
from chaos.console.errors import ConsoleError
from chaos.console.follow import Followed, is_gameday_dir, locate
from chaos.gameday.errors import GamedayError
from chaos.gameday.notes import stamp_note
from chaos.safety.emergency_stop import emergency_stop

MAX_AUTHOR_CHARS = 80


def _author(author: str) -> str:
    author = " ".join(author.split())
    if not author:
        raise ConsoleError("a note needs the author's name")
    if len(author) > MAX_AUTHOR_CHARS:
        raise ConsoleError(f"a name is at most {MAX_AUTHOR_CHARS} characters")
    return author


def add_note(runs_dir: Path, text: str, author: str) -> dict[str, Any]:
    """Stamp a note on the run in progress, as `gameday note --author` does."""
    try:
        run_dir, event = stamp_note(runs_dir, text, _author(author))
    except GamedayError as exc:
        raise ConsoleError(str(exc)) from exc
    return {"run": run_dir.name, "event": event}


def next_step(runs_dir: Path, author: str) -> dict[str, Any]:
    """Let the game day in progress start its next experiment."""
    gameday_dir = locate(runs_dir, Followed()).gameday_dir
    if gameday_dir is None or not is_gameday_dir(gameday_dir):
        raise ConsoleError(f"no game day is in progress under {runs_dir}")
    if not is_awaiting(gameday_dir):
        raise ConsoleError(
            f"the game day {gameday_dir.name} is not waiting for its next step (only "
            "`gameday play --step --console` waits for it)"
        )
    event = request_advance(gameday_dir, _author(author))
    return {"gameday": gameday_dir.name, "event": event}


def stop_everything(runs_dir: Path, grace_s: float = 30.0) -> dict[str, Any]:
    """`gameday stop`: hold the runs folder, stop every runner, undo every ledger."""
    report = emergency_stop(runs_dir, grace_s=grace_s)
    return {
        "complete": report.complete,
        "may_still_be_applied": report.may_still_be_applied,
        "hold": report.hold.describe() if report.hold else report.hold_problem,
        "runners": [
            {"kind": o.runner.kind, "pid": o.runner.pid, "outcome": o.outcome}
            for o in report.runners
        ],
        "undone": [f"{entry.kind} on {entry.target}" for entry in report.undone],
        "failures": [str(failure) for failure in report.failures],
        "unreadable": list(report.unreadable),
    }
