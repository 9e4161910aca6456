"""The run's timeline: `timeline.jsonl`, one event per line, plus in-process listeners."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos.engine.runs_folder import RunFolderWriteFailed

Event = dict[str, Any]
Listener = Callable[[Event], None]
TIMELINE_FILE = "timeline.jsonl"
# How each engine phase (the `name` of a `phase` event) reads in the live view and the chart.
PHASE_LABELS = {
    "warmup": "warm-up",
    "baseline": "baseline",
    "steady_state_before": "steady state before",
    "method": "method",
    "recovery": "recovery",
    "steady_state_after": "steady state after",
    "rollbacks": "rollbacks",
}


class Timeline:
    """Append-only event log shared by the engine's threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        # The first write that failed; later events still reach the listeners.
        self.write_error: RunFolderWriteFailed | None = None

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def stamp(self, kind: str, ts: float | None = None, **fields: Any) -> Event:
        """Write one event (`ts` defaults to now) and tell every listener."""
        event: Event = {"ts": round(ts if ts is not None else time.time(), 3), "kind": kind}
        event.update(fields)
        line = json.dumps(event, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(line)
            except OSError as exc:
                # A full disk must not stop a run mid-fault: the run goes on to its
                # rollbacks, and whoever owns the timeline reports it incomplete.
                if self.write_error is None:
                    self.write_error = RunFolderWriteFailed(self.path, exc.strerror or str(exc))
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001,S112 - a broken view must never break the run
                continue
        return event

    def phase(self, name: str, edge: str, **fields: Any) -> Event:
        return self.stamp("phase", name=name, edge=edge, **fields)

    def events(self) -> list[Event]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]
