"""The live view renders phase, load, active faults and checks from events and the stream."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.cli.run_view import LiveView, describe_event


def _experiment() -> SimpleNamespace:
    model = SimpleNamespace(
        method=[SimpleNamespace(pauses=SimpleNamespace(before=0, after=10))],
        load=SimpleNamespace(warmup_s=3, baseline_s=5, recovery_s=5, after_s=3),
    )
    return SimpleNamespace(title="live test", model=model)


def test_render_shows_phase_load_faults_and_checks(tmp_path: Path) -> None:
    (tmp_path / "load").mkdir()
    line = {"ts": 1, "rps": 42.0, "error_rate": 0.125, "p95": 87.0}
    (tmp_path / "load" / "stream.jsonl").write_text(json.dumps(line) + "\n")
    out = StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    view = LiveView(console, live=False)
    view.started(tmp_path, _experiment())
    view.event({"ts": 1.0, "kind": "phase", "name": "method", "edge": "start"})
    view.event(
        {"ts": 1.1, "kind": "fault", "id": "f1", "name": "slow", "target": "a->b", "edge": "start"}
    )
    view.event(
        {"ts": 2.0, "kind": "check", "probe": "p95", "phase": "method", "value": 900, "ok": False}
    )
    render = StringIO()
    Console(file=render, width=120).print(view.render())
    text = render.getvalue()
    for expected in ("method", "42 rps", "12.5%", "87 ms", "slow → a->b", "p95", "FAILED", "/10 s"):
        assert expected in text, (expected, text)
    view.event({"ts": 3.0, "kind": "fault", "id": "f1", "edge": "end"})
    render = StringIO()
    Console(file=render, width=120).print(view.render())
    assert "slow → a->b" not in render.getvalue()
    # Not live: every event was also printed as a line.
    assert "check [method] p95 = 900 FAILED" in out.getvalue()


def test_describe_event_names_abort_and_rollback() -> None:
    assert describe_event({"kind": "abort", "reason": "guardrail storm held"}) == (
        "abort: guardrail storm held"
    )
    assert describe_event({"kind": "rollback", "id": "x", "ok": False}) == "rollback x FAILED"


def test_rollback_of_a_missing_run_folder_is_invalid_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rollback", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_describe_event_shows_an_undo_in_the_method() -> None:
    event = {"kind": "activity", "name": "end-latency", "type": "action", "ok": True, "undo": True}
    assert describe_event(event) == "undo end-latency ok"
    assert describe_event({"kind": "activity", "name": "p", "type": "probe", "ok": True}) is None
