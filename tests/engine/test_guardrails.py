"""Guardrails: consecutive breaching seconds of the load stream."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from chaos.experiment.models import Guardrail
from chaos.safety.guardrails import GuardrailState, GuardrailWatcher


def _line(ts: int, error_rate: float | None, p95: float | None = 10.0) -> dict:
    return {"ts": ts, "error_rate": error_rate, "p95": p95, "endpoints": {}}


def test_holds_after_for_s_consecutive_seconds() -> None:
    state = GuardrailState(Guardrail(metric="error_rate", above=0.5, for_s=3))
    results = [state.feed(_line(t, 0.9)) for t in range(100, 103)]
    assert results == [False, False, True]


def test_a_good_second_or_a_gap_resets_the_streak() -> None:
    state = GuardrailState(Guardrail(metric="error_rate", above=0.5, for_s=3))
    assert not state.feed(_line(1, 0.9))
    assert not state.feed(_line(2, 0.9))
    assert not state.feed(_line(3, 0.1))
    assert not state.feed(_line(4, 0.9))
    assert not state.feed(_line(5, 0.9))
    assert not state.feed(_line(9, 0.9))  # gap
    assert state.streak == 1


def test_empty_seconds_neither_count_nor_reset() -> None:
    state = GuardrailState(Guardrail(metric="error_rate", above=0.5, for_s=2))
    assert not state.feed(_line(1, 0.9))
    assert not state.feed(_line(2, None))
    assert state.feed(_line(3, 0.9))


def test_below_and_endpoint_metrics() -> None:
    guardrail = Guardrail(metric="rps", below=5, for_s=1, endpoint="POST /checkout")
    state = GuardrailState(guardrail)
    line = {"ts": 1, "rps": 100, "endpoints": {"POST /checkout": {"rps": 2}}}
    assert state.feed(line)


def test_watcher_reports_a_breach_only_while_active(tmp_path: Path) -> None:
    stream = tmp_path / "stream.jsonl"
    active = threading.Event()
    breaches: list[tuple[str, float | None]] = []
    watcher = GuardrailWatcher(
        stream,
        [Guardrail(name="storm", metric="error_rate", above=0.5, for_s=2)],
        active=active.is_set,
        on_breach=lambda g, v: breaches.append((g.name or "", v)),
    ).start()
    try:
        with stream.open("a") as out:
            for ts in range(10, 14):
                out.write(json.dumps(_line(ts, 0.9)) + "\n")
        deadline = time.monotonic() + 10
        while watcher.lines_read < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.lines_read == 4
        assert breaches == []  # read while inactive: not evaluated
        active.set()
        with stream.open("a") as out:
            for ts in range(14, 17):
                out.write(json.dumps(_line(ts, 0.8)) + "\n")
        deadline = time.monotonic() + 10
        while not breaches and time.monotonic() < deadline:
            time.sleep(0.05)
        assert breaches == [("storm", 0.8)]
    finally:
        watcher.stop()
