"""Abort conditions evaluated while the method runs, second by second.

A load guardrail such as `error_rate above 0.5 for 5 s` holds when that many consecutive
seconds of `load/stream.jsonl` breach the threshold. Seconds without requests neither
count nor break a streak; a gap in the stream does. PromQL guardrails are evaluated
against Prometheus each second (`chaos.safety.promql_guardrails`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chaos.experiment.models import Guardrail
from chaos.safety.promql_guardrails import EVALUATE_EVERY_S, PromqlGuardrailState, prometheus_for

POLL_S = 0.25


def metric_of(line: dict[str, Any], guardrail: Guardrail) -> float | None:
    source = line
    if guardrail.endpoint:
        source = (line.get("endpoints") or {}).get(guardrail.endpoint) or {}
    value = source.get(guardrail.metric)
    return float(value) if isinstance(value, int | float) else None


class GuardrailState:
    """Streak bookkeeping of one guardrail."""

    def __init__(self, guardrail: Guardrail) -> None:
        self.guardrail = guardrail
        self.streak = 0
        self.last_ts: float | None = None

    def feed(self, line: dict[str, Any]) -> bool:
        """Take one second; True when the condition now holds."""
        ts = float(line.get("ts", 0))
        if self.last_ts is not None and ts - self.last_ts > 1.5:
            self.streak = 0
        self.last_ts = ts
        value = metric_of(line, self.guardrail)
        if value is None:
            return False
        if self.guardrail.breached(value):
            self.streak += 1
        else:
            self.streak = 0
        return self.streak >= self.guardrail.for_s


class GuardrailWatcher:
    """A daemon thread that tails the stream, queries Prometheus for PromQL guardrails and
    calls `on_breach(guardrail, value)` once.

    `configuration` (the run's) says where Prometheus is; with PromQL guardrails and no
    Prometheus the constructor raises `GuardrailUnavailable`."""

    def __init__(
        self,
        stream: Path,
        guardrails: list[Guardrail],
        active: Callable[[], bool],
        on_breach: Callable[[Guardrail, float | None], None],
        configuration: Mapping[str, Any] | None = None,
    ) -> None:
        self.stream = Path(stream)
        self.states = [GuardrailState(g) for g in guardrails if g.promql is None]
        url = prometheus_for(guardrails, configuration)
        self.promql_states = [
            PromqlGuardrailState(g, url) for g in guardrails if g.promql is not None and url
        ]
        self.active = active
        self.on_breach = on_breach
        self._stop = threading.Event()
        self._offset = 0
        self._partial = b""
        self._thread = threading.Thread(target=self._run, name="gameday-guardrails", daemon=True)
        self.breached: Guardrail | None = None
        # Stream lines taken in so far, evaluated or not: lets a caller know the watcher
        # has caught up with the stream.
        self.lines_read = 0

    def start(self) -> GuardrailWatcher:
        if self.states or self.promql_states:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _new_lines(self) -> list[dict[str, Any]]:
        try:
            with self.stream.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        lines = []
        for raw in complete:
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
        return lines

    def _run(self) -> None:
        next_query = time.monotonic()
        while not self._stop.wait(POLL_S):
            lines = self._new_lines()
            self.lines_read += len(lines)
            if not self.active():
                for state in self.states:
                    state.streak = 0
                for promql in self.promql_states:
                    promql.reset()
                continue
            for line in lines:
                for state in self.states:
                    if state.feed(line):
                        self._breach(state.guardrail, metric_of(line, state.guardrail))
                        return
            if self.promql_states and time.monotonic() >= next_query:
                next_query = time.monotonic() + EVALUATE_EVERY_S
                for promql in self.promql_states:
                    if promql.evaluate():
                        self._breach(promql.guardrail, promql.last_value)
                        return

    def _breach(self, guardrail: Guardrail, value: float | None) -> None:
        self.breached = guardrail
        self.on_breach(guardrail, value)
