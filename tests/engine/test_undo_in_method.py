"""An undo action inside the method (say `end-latency` calling `remove_toxics`) ends the
fault it undoes; it is not a second fault. Runs the real network faults against an
embedded fault proxy (no mesh, no load)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.cli.run import _timeline_counts
from chaos.engine import RunOptions, run_experiment
from chaos.gates.run_folder import fault_windows
from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient

EXPERIMENT = """\
title: latency then its undo inside the method
description: an engine test
target: none
load: false
configuration:
  gameday_proxy_api: {api}
method:
  - type: action
    name: delay-a-to-b
    provider:
      type: python
      module: chaos.faults.network
      func: {fault}
      arguments: {{edge: "a->b", {fault_args}ttl_s: 60}}
    pauses: {{after: 0.5}}
  - type: action
    name: end-latency-a-to-b
    provider:
      type: python
      module: chaos.faults.network
      func: {undo}
      arguments: {{edge: "a->b"}}
    pauses: {{after: 1.0}}
rollbacks:
  - type: action
    name: lift
    provider:
      type: python
      module: chaos.faults.network
      func: remove_toxics
      arguments: {{edge: "a->b"}}
"""


@pytest.fixture
def proxy_api() -> Iterator[str]:
    with EmbeddedProxyServer(host="127.0.0.1", port=0) as server:
        client = ToxiproxyClient(server.url, timeout=5.0)
        try:
            client.create_proxy("a->b", upstream="127.0.0.1:9", listen="127.0.0.1:0")
            yield server.url
        finally:
            client.close()


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    ("fault", "fault_args", "undo"),
    [("add_latency", "latency_ms: 800, ", "remove_toxics"), ("partition", "", "heal_partition")],
)
def test_an_undo_action_in_the_method_closes_the_fault_window(
    proxy_api: str, tmp_path: Path, fault: str, fault_args: str, undo: str
) -> None:
    path = tmp_path / "latency.yaml"
    path.write_text(EXPERIMENT.format(api=proxy_api, fault=fault, fault_args=fault_args, undo=undo))
    result = run_experiment(path, RunOptions(runs_dir=tmp_path / "runs"))
    assert result.exit_code == 0, result.reason
    events = _events(result.run_dir)
    starts = [e for e in events if e["kind"] == "fault" and e["edge"] == "start"]
    assert [e["name"] for e in starts] == ["delay-a-to-b"]
    undo_events = [e for e in events if e.get("name") == "end-latency-a-to-b"]
    assert [e["kind"] for e in undo_events] == ["activity"]
    assert undo_events[0]["ok"] and undo_events[0]["undo"] is True
    # The window ends when the undo ran, not when the method (1 s later) ended.
    [window] = fault_windows(events)
    method_end = next(
        e["ts"]
        for e in events
        if e["kind"] == "phase" and e["name"] == "method" and e["edge"] == "end"
    )
    assert window.end is not None
    assert 0.4 <= window.end - window.start < 1.4
    assert method_end - window.end >= 0.9
    assert "1 fault(s)" in _timeline_counts(result.run_dir)
