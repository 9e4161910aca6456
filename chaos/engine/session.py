"""One run's shared state: the phase, the open faults, and what happens between phases.

The timeline control (chaos.engine.controls) and the engine both reach the session of a
run through the run folder named by configuration `gameday_run_dir`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos.engine.timeline import TIMELINE_FILE, Timeline
from chaos.safety.ledger import Ledger, LedgerEntry, UndoFailed, undo_outstanding

_sessions: dict[str, RunSession] = {}
_registry_lock = threading.Lock()


class RunSession:
    """Phase bookkeeping for one run folder."""

    def __init__(
        self,
        run_dir: Path,
        timeline: Timeline | None = None,
        ledger: Ledger | None = None,
        recovery_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.timeline = timeline or Timeline(self.run_dir / TIMELINE_FILE)
        self.ledger = ledger
        self.recovery_s = recovery_s
        self._sleep = sleep
        self.phase: str | None = None
        self.method_started = False
        self.method_ended = False
        self.in_rollbacks = False
        # True when the engine's event handler stamps activities as they finish.
        self.activity_events = False
        self._lock = threading.Lock()
        # fault key -> (ledger id or None, name)
        self._open_faults: dict[str, str | None] = {}

    # -- phases ----------------------------------------------------------------------

    def begin(self, name: str, **fields: Any) -> None:
        self.phase = name
        self.timeline.phase(name, "start", **fields)

    def end(self, name: str, **fields: Any) -> None:
        self.timeline.phase(name, "end", **fields)

    def before_steady_state_after(self) -> None:
        """The method is over: lift its faults, then give the system `recovery_s`."""
        self.lift_faults()
        if self.recovery_s > 0:
            self.begin("recovery", duration_s=self.recovery_s)
            self._sleep(self.recovery_s)
            self.end("recovery")

    # -- faults ----------------------------------------------------------------------

    def fault_started(
        self, name: str, ledger_id: str | None, target: str | None, ts: float | None = None
    ) -> None:
        key = ledger_id or name
        with self._lock:
            self._open_faults[key] = ledger_id
        self.timeline.stamp("fault", ts=ts, id=key, name=name, target=target, edge="start")

    def active_faults(self) -> list[str]:
        with self._lock:
            return list(self._open_faults)

    def reconcile(self) -> None:
        """Stamp the end of every open fault whose ledger entry is no longer outstanding."""
        if self.ledger is None:
            return
        try:
            entries = {entry.id: entry for entry in self.ledger.entries()}
        except Exception:  # noqa: BLE001 - a ledger being written is read again next time
            return
        with self._lock:
            done = [
                (key, entries[lid])
                for key, lid in self._open_faults.items()
                if lid in entries and not entries[lid].outstanding
            ]
            for key, _ in done:
                del self._open_faults[key]
        for key, entry in done:
            self.timeline.stamp(
                "fault", ts=entry.ts, id=key, target=entry.target, edge="end", status=entry.status
            )

    def lift_faults(self) -> tuple[list[LedgerEntry], list[UndoFailed]]:
        """Undo every outstanding fault of this run's ledger; end faults without a ledger."""
        settled: list[LedgerEntry] = []
        failures: list[UndoFailed] = []
        if self.ledger is not None:
            settled, failures = undo_outstanding(self.ledger)
            self.reconcile()
        with self._lock:
            unledgered = [key for key, lid in self._open_faults.items() if lid is None]
            for key in unledgered:
                del self._open_faults[key]
        for key in unledgered:
            self.timeline.stamp("fault", id=key, edge="end", status="method_ended")
        for failure in failures:
            self.timeline.stamp("rollback", id=failure.entry.id, ok=False, error=failure.reason)
        return settled, failures


def register(session: RunSession) -> None:
    with _registry_lock:
        _sessions[str(session.run_dir.resolve())] = session


def unregister(session: RunSession) -> None:
    with _registry_lock:
        _sessions.pop(str(session.run_dir.resolve()), None)


def session_for(run_dir: str | Path) -> RunSession:
    """The engine's session for `run_dir`, or (under a plain `chaos run`) a new one that
    only writes the timeline."""
    key = str(Path(run_dir).resolve())
    with _registry_lock:
        session = _sessions.get(key)
        if session is None:
            session = RunSession(Path(run_dir))
            _sessions[key] = session
        return session
