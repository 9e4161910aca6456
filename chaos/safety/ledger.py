"""The fault ledger: every injected fault with its undo, written before the fault is applied.

An append-only JSONL file; each line is one state of one fault and the latest line per `id`
wins. A fault provider writes an `intent` line (with the undo that reverses the fault),
applies the fault, then writes `applied`. Undoing writes `undone` (or `undo_failed`);
a fault that lapsed on its own (its TTL passed) is `expired`. Whatever is still `intent`,
`applied` or `undo_failed` is outstanding: `gameday rollback` undoes it after a crash.

Appends from several processes are safe: each line is one `write(2)` on an `O_APPEND`
descriptor under an exclusive `flock`, followed by `fsync`, so lines never interleave and
a line that was written survives a power cut.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Status = Literal["intent", "applied", "undone", "undo_failed", "expired"]
OUTSTANDING_STATUSES: frozenset[str] = frozenset({"intent", "applied", "undo_failed"})
DEFAULT_LEDGER = Path(".gameday") / "ledger.jsonl"
LEDGER_ENV = "GAMEDAY_LEDGER"
LEDGER_CONFIG_KEY = "gameday_ledger"
RUN_DIR_CONFIG_KEY = "gameday_run_dir"


class LedgerError(Exception):
    """Base of every ledger error."""


class LedgerCorrupt(LedgerError):
    """A line of the ledger is not a valid ledger entry."""

    def __init__(self, path: Path, line_no: int, reason: str) -> None:
        super().__init__(f"{path}:{line_no}: not a valid ledger line: {reason}")
        self.path = path
        self.line_no = line_no


class UnknownEntry(LedgerError):
    """No line of the ledger has this id."""


class UndoFailed(LedgerError):
    """An entry's undo could not be imported or raised."""

    def __init__(self, entry: LedgerEntry, reason: str) -> None:
        super().__init__(
            f"undo of {entry.kind} on {entry.target} (ledger id {entry.id}) failed: {reason}"
        )
        self.entry = entry
        self.reason = reason


class UndoSpec(BaseModel):
    """What reverses a fault: `module.func(**arguments)`. Must be safe to call twice."""

    model_config = ConfigDict(extra="forbid")

    module: str
    func: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class LedgerEntry(BaseModel):
    """One line of the ledger."""

    model_config = ConfigDict(extra="ignore")

    id: str
    ts: float
    status: Status
    kind: str
    target: str
    undo: UndoSpec
    expires_at: float | None = None
    run_dir: str | None = None

    @property
    def outstanding(self) -> bool:
        return self.status in OUTSTANDING_STATUSES


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
                os.write(fd, line)
                os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise LedgerError(f"cannot write the ledger {self.path}: {exc.strerror}") from exc
        finally:
            os.close(fd)

    # -- reading -------------------------------------------------------------------------

    def history(self) -> list[LedgerEntry]:
        """Every line in file order.

        A torn line (an object cut short by a crash mid-write) is skipped; any other line
        that is not a ledger entry raises `LedgerCorrupt` naming the line.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        entries: list[LedgerEntry] = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                if line.lstrip().startswith(b"{"):
                    continue
                raise LedgerCorrupt(self.path, number, str(exc)) from exc
            try:
                entries.append(LedgerEntry.model_validate(data))
            except ValidationError as exc:
                error = exc.errors()[0]
                field = ".".join(str(part) for part in error.get("loc", ()))
                raise LedgerCorrupt(self.path, number, f"{field}: {error['msg']}") from exc
        return entries

    def entries(self) -> list[LedgerEntry]:
        """The current state of every fault (latest line per id), in order of first intent."""
        latest: dict[str, LedgerEntry] = {}
        for entry in self.history():
            latest[entry.id] = entry
        return list(latest.values())

    def get(self, entry_id: str) -> LedgerEntry:
        for entry in reversed(self.history()):
            if entry.id == entry_id:
                return entry
        raise UnknownEntry(f"{self.path}: no ledger entry with id {entry_id!r}")

    def outstanding(self) -> list[LedgerEntry]:
        """Faults that may still be applied: `intent`, `applied` or `undo_failed`.

        An entry whose `expires_at` has passed is still listed: only its undo (which is
        idempotent) can confirm it is gone, because a real Toxiproxy ignores TTLs.
        """
        return [entry for entry in self.entries() if entry.outstanding]

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


def undo_entry(entry: LedgerEntry, ledger: Ledger | None = None) -> Any:
    """Call `entry.undo` and, when a ledger is given, record `undone` or `undo_failed`.

    A fault whose TTL had already passed is recorded as `expired` rather than `undone`:
    the undo then only confirms that it is gone. Raises `UndoFailed`.
    """
    try:
        module = importlib.import_module(entry.undo.module)
        func = getattr(module, entry.undo.func)
    except (ImportError, AttributeError) as exc:
        if ledger is not None:
            ledger.mark(entry, "undo_failed")
        raise UndoFailed(entry, f"cannot import {entry.undo.module}.{entry.undo.func}") from exc
    try:
        result = func(**entry.undo.arguments)
    except Exception as exc:
        if ledger is not None:
            ledger.mark(entry, "undo_failed")
        raise UndoFailed(entry, f"{type(exc).__name__}: {exc}") from exc
    if ledger is not None:
        lapsed = entry.expires_at is not None and entry.expires_at <= time.time()
        ledger.mark(entry, "expired" if lapsed else "undone")
    return result


def undo_outstanding(ledger: Ledger) -> tuple[list[LedgerEntry], list[UndoFailed]]:
    """Undo every outstanding entry, newest first; return (settled entries, failures)."""
    settled_ids: list[str] = []
    failures: list[UndoFailed] = []
    for entry in reversed(ledger.outstanding()):
        try:
            undo_entry(entry, ledger)
        except UndoFailed as failure:
            failures.append(failure)
        else:
            settled_ids.append(entry.id)
    # One read for the new states, not one per settled entry.
    current = {entry.id: entry for entry in ledger.entries()} if settled_ids else {}
    return [current[entry_id] for entry_id in settled_ids], failures
