"""The fault ledger: every injected fault with its undo, written before the fault is applied.

An append-only JSONL file; each line is one state of one fault and the latest line per `id`
wins. A fault provider writes an `intent` line (with the undo that reverses the fault),
applies the fault, then writes `applied`; if applying failed before the fault took effect it
writes `not_applied`. Undoing writes `undone` (or `undo_failed`); a fault that lapsed on its
own (its TTL passed) is `expired`; an entry a person dropped with `gameday rollback --forget`
is `forgotten`. Whatever is still `intent`, `applied` or `undo_failed` is outstanding:
`gameday rollback` undoes it after a crash.

Appends from several processes are safe: each line is one `write(2)` on an `O_APPEND`
descriptor under an exclusive `flock`, followed by `fsync`, so lines never interleave and
a line that was written survives a power cut. Reading never stops at a damaged line
(see `chaos.safety.ledger_reading`).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chaos.safety.ledger_entry import (
    DAMAGED_LINE_ID_PREFIX,
    DAMAGED_LINE_KIND,
    OUTSTANDING_STATUSES,
    LedgerEntry,
    Status,
    UndoSpec,
)
from chaos.safety.ledger_reading import DamagedLine, LedgerReading, parse_ledger

__all__ = [
    "OUTSTANDING_STATUSES",
    "DamagedLine",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LedgerReading",
    "NotOutstanding",
    "Status",
    "UndoFailed",
    "UndoSpec",
    "UnknownEntry",
    "find_ledger",
    "run_dir_of",
    "undo_entry",
    "undo_outstanding",
]

DEFAULT_LEDGER = Path(".gameday") / "ledger.jsonl"
LEDGER_ENV = "GAMEDAY_LEDGER"
LEDGER_CONFIG_KEY = "gameday_ledger"
RUN_DIR_CONFIG_KEY = "gameday_run_dir"


class LedgerError(Exception):
    """Base of every ledger error."""


class UnknownEntry(LedgerError):
    """No line of the ledger has this id."""


class NotOutstanding(LedgerError):
    """The entry (or damaged line) is already settled: there is nothing to forget."""


class UndoFailed(LedgerError):
    """An entry's undo could not be imported or raised."""

    def __init__(self, entry: LedgerEntry, reason: str) -> None:
        super().__init__(
            f"undo of {entry.kind} on {entry.target} (ledger id {entry.id}) failed: {reason}"
        )
        self.entry = entry
        self.reason = reason


class Ledger:
    """An append-only fault ledger at `path` (the folder is created on the first write)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    # -- writing -------------------------------------------------------------------------

    def record_intent(
        self,
        kind: str,
        target: str,
        undo: UndoSpec | Mapping[str, Any],
        *,
        expires_at: float | None = None,
        run_dir: str | Path | None = None,
    ) -> LedgerEntry:
        """Write the `intent` line for a fault about to be applied and return the entry."""
        entry = LedgerEntry(
            id=uuid.uuid4().hex[:12],
            ts=time.time(),
            status="intent",
            kind=kind,
            target=target,
            undo=undo if isinstance(undo, UndoSpec) else UndoSpec.model_validate(dict(undo)),
            expires_at=expires_at,
            run_dir=str(run_dir) if run_dir is not None else None,
        )
        self._append(entry)
        return entry

    def mark(self, entry: LedgerEntry | str, status: Status) -> LedgerEntry:
        """Append a new state for an entry (given as an entry or an id) and return it."""
        current = entry if isinstance(entry, LedgerEntry) else self.get(entry)
        updated = current.model_copy(update={"status": status, "ts": time.time()})
        self._append(updated)
        return updated

    def _append(self, entry: LedgerEntry) -> None:
        line = (json.dumps(entry.model_dump(mode="json"), separators=(",", ":")) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(f"cannot write the ledger {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                # A power cut can leave a last line without its newline; never glue onto it.
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
                written = os.write(fd, line)
                if written != len(line):
                    # A full disk takes part of a line: the fault must not be applied.
                    raise OSError(28, f"only {written} of {len(line)} bytes written")
                os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise LedgerError(f"cannot write the ledger {self.path}: {exc.strerror}") from exc
        finally:
            os.close(fd)

    # -- reading -------------------------------------------------------------------------

    def read(self) -> LedgerReading:
        """Every readable line and every damaged line (a missing ledger reads as empty)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return LedgerReading()
        except OSError as exc:
            raise LedgerError(f"cannot read the ledger {self.path}: {exc.strerror}") from exc
        return parse_ledger(self.path, raw)

    def history(self) -> list[LedgerEntry]:
        """Every readable line in file order (damaged lines are in `read().damaged`)."""
        return self.read().history

    def entries(self) -> list[LedgerEntry]:
        """The current state of every fault (latest line per id), in order of first intent."""
        return self.read().entries()

    def get(self, entry_id: str) -> LedgerEntry:
        for entry in reversed(self.history()):
            if entry.id == entry_id:
                return entry
        raise UnknownEntry(f"{self.path}: no ledger entry with id {entry_id!r}")

    def outstanding(self) -> list[LedgerEntry]:
        """Faults that may still be applied: `intent`, `applied` or `undo_failed`, or an
        entry whose latest line is damaged.

        An entry whose `expires_at` has passed is still listed: only its undo (which is
        idempotent) can confirm it is gone, because a real Toxiproxy ignores TTLs.
        """
        return self.read().outstanding()

    def forgettable(self, entry_id: str) -> LedgerEntry | DamagedLine:
        """What `forget(entry_id)` would drop: an outstanding entry, or a damaged line for an
        id `line:N`. Raises `UnknownEntry` or `NotOutstanding`."""
        reading = self.read()
        if entry_id.startswith(DAMAGED_LINE_ID_PREFIX):
            for line in reading.damaged:
                if line.forget_id == entry_id:
                    return line
            raise UnknownEntry(f"{self.path}: no damaged line {entry_id!r} left to forget")
        for entry in reading.outstanding():
            if entry.id == entry_id:
                return entry
        for entry in reading.entries():
            if entry.id == entry_id:
                raise NotOutstanding(
                    f"{self.path}: entry {entry_id} is {entry.status}: nothing to forget"
                )
        raise UnknownEntry(f"{self.path}: no ledger entry with id {entry_id!r}")

    def forget(self, entry_id: str) -> LedgerEntry:
        """Settle an outstanding entry or a damaged line as `forgotten` without calling any
        undo; return the line written. Whatever the fault did stays as it is."""
        dropped = self.forgettable(entry_id)
        if isinstance(dropped, LedgerEntry):
            return self.mark(dropped, "forgotten")
        marker = LedgerEntry(
            id=dropped.forget_id,
            ts=time.time(),
            status="forgotten",
            kind=DAMAGED_LINE_KIND,
            target=dropped.location,
            undo=UndoSpec(module=__name__, func="nothing_to_undo"),
        )
        self._append(marker)
        return marker

    def settle(
        self, matches: Callable[[LedgerEntry], bool], status: Status = "undone"
    ) -> list[LedgerEntry]:
        """Mark every outstanding entry for which `matches` is true; return the new states."""
        return [self.mark(entry, status) for entry in self.outstanding() if matches(entry)]


def find_ledger(configuration: Mapping[str, Any] | None = None) -> Ledger:
    """The ledger a provider writes to: configuration `gameday_ledger`, else env
    `GAMEDAY_LEDGER`, else `.gameday/ledger.jsonl` under the working directory."""
    configured = (configuration or {}).get(LEDGER_CONFIG_KEY)
    if configured:
        return Ledger(Path(configured))
    from_env = os.environ.get(LEDGER_ENV)
    if from_env:
        return Ledger(Path(from_env))
    return Ledger(DEFAULT_LEDGER)


def run_dir_of(configuration: Mapping[str, Any] | None) -> str | None:
    """The run folder named by configuration `gameday_run_dir`, recorded with each entry."""
    value = (configuration or {}).get(RUN_DIR_CONFIG_KEY)
    return str(value) if value else None


def nothing_to_undo() -> None:
    """The undo of a forgotten damaged line: the line named no fault the tool can undo."""


def _record_undo_failed(ledger: Ledger | None, entry: LedgerEntry) -> None:
    # The entry stays outstanding whether or not this line lands, so a ledger that cannot
    # be written must not hide the undo's own error.
    if ledger is not None:
        with contextlib.suppress(LedgerError):
            ledger.mark(entry, "undo_failed")


def undo_entry(entry: LedgerEntry, ledger: Ledger | None = None) -> Any:
    """Call `entry.undo` and, when a ledger is given, record `undone` or `undo_failed`.

    A fault whose TTL had already passed is recorded as `expired` rather than `undone`:
    the undo then only confirms that it is gone. Raises `UndoFailed`, or `LedgerError` when
    the undo ran but its outcome could not be recorded.
    """
    try:
        module = importlib.import_module(entry.undo.module)
        func = getattr(module, entry.undo.func)
    except (ImportError, AttributeError) as exc:
        _record_undo_failed(ledger, entry)
        raise UndoFailed(entry, f"cannot import {entry.undo.module}.{entry.undo.func}") from exc
    try:
        result = func(**entry.undo.arguments)
    except Exception as exc:
        _record_undo_failed(ledger, entry)
        raise UndoFailed(entry, f"{type(exc).__name__}: {exc}") from exc
    if ledger is not None:
        lapsed = entry.expires_at is not None and entry.expires_at <= time.time()
        ledger.mark(entry, "expired" if lapsed else "undone")
    return result


def undo_outstanding(ledger: Ledger) -> tuple[list[LedgerEntry], list[UndoFailed]]:
    """Undo every readable outstanding entry, newest first; return (settled entries,
    failures). An undo that ran but could not be recorded is a failure too: the ledger
    still lists its entry as outstanding."""
    settled_ids: list[str] = []
    failures: list[UndoFailed] = []
    for entry in reversed(ledger.outstanding()):
        try:
            undo_entry(entry, ledger)
        except UndoFailed as failure:
            failures.append(failure)
        except LedgerError as exc:
            failures.append(UndoFailed(entry, f"the undo ran but was not recorded: {exc}"))
        else:
            settled_ids.append(entry.id)
    # One read for the new states, not one per settled entry.
    current = {entry.id: entry for entry in ledger.entries()} if settled_ids else {}
    return [current[entry_id] for entry_id in settled_ids], failures
