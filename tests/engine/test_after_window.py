"""A real short run against the mesh (slow): load keeps running `load.after_s` past the
steady state after and the rollbacks, so the report's "after" row measures real traffic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from chaos.report import build_report

pytestmark = pytest.mark.slow

AFTER_S = 3
EXPERIMENT = """\
title: after window
description: a short holding run whose report must have an "after" row
target: mesh
load: {{users: 6, spawn_rate: 6, warmup_s: 1, baseline_s: 2, recovery_s: 1, after_s: {after_s}}}
hypothesis_frequency_s: 1
steady-state-hypothesis:
  title: products are served
  probes:
    - type: probe
      name: products-error-rate
      tolerance: {{type: range, range: [0, 0.5]}}
      provider:
        type: python
        module: chaos.probes.load
        func: error_rate
        arguments: {{window_s: 2, endpoint: "GET /products"}}
method:
  - type: action
    name: slow-orders-payments
    provider:
      type: python
      module: chaos.faults.network
      func: add_latency
      arguments: {{edge: "orders->payments", latency_ms: 50, ttl_s: 60}}
    pauses: {{after: 2}}
rollbacks:
  - type: action
    name: lift-latency
    provider:
      type: python
      module: chaos.faults.network
      func: remove_toxics
      arguments: {{edge: "orders->payments"}}
"""


def _completions(run_dir: Path) -> list[float]:
    rows = []
    for path in sorted((run_dir / "load" / "samples").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                rows.append(float(json.loads(line)[0]))
    return rows


def test_the_after_row_holds_the_traffic_of_the_after_tail(
    run_gameday_experiment, tmp_path: Path
) -> None:
    path = tmp_path / "after.yaml"
    path.write_text(EXPERIMENT.format(after_s=AFTER_S))
    result = run_gameday_experiment(path)
    assert (result.verdict, result.exit_code) == ("held", 0), result.reason
    assert result.run_dir is not None
    run_dir = result.run_dir

    timeline = [
        json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().split("\n") if line
    ]
    phases = {(e["name"], e["edge"]): float(e["ts"]) for e in timeline if e["kind"] == "phase"}
    # The tail follows the steady state after and the rollbacks, and lasts after_s.
    assert phases[("after", "start")] >= phases[("rollbacks", "end")]
    assert phases[("after", "end")] - phases[("after", "start")] >= AFTER_S
    # The load was stopped after the tail, not before it. The stop follows the tail's end
    # within a millisecond, and both files round to the millisecond: allow that rounding.
    load = json.loads((run_dir / "load" / "summary.json").read_text())
    assert load["started_at"] + load["duration_s"] >= phases[("after", "end")] - 1e-3

    report = build_report(run_dir)
    rows = {row.name: row for row in report.phases}
    assert list(rows) == ["baseline", "during_fault", "recovery", "after"], list(rows)
    after = rows["after"]
    # From the end of recovery through the steady state after, the rollbacks and the tail.
    assert after.start == pytest.approx(phases[("recovery", "end")], abs=1e-3)
    assert after.end >= phases[("after", "end")] - 1e-3
    inside = [ts for ts in _completions(run_dir) if after.start <= ts < after.end]
    assert after.requests == len(inside) > 0, after
    assert after.source == "raw samples"


def _after_started(runs: Path) -> bool:
    for timeline in runs.glob("*/timeline.jsonl"):
        for line in timeline.read_text().splitlines():
            event = json.loads(line) if line.strip() else {}
            if event.get("kind") == "phase" and (event.get("name"), event.get("edge")) == (
                "after",
                "start",
            ):
                return True
    return False


def test_ctrl_c_during_the_tail_ends_the_run_at_once(
    gameday: Path, gameday_mesh, tmp_path: Path
) -> None:
    path = tmp_path / "long-tail.yaml"
    path.write_text(EXPERIMENT.format(after_s=60))
    runs = tmp_path / "runs"
    env = {**os.environ, "GAMEDAY_MESH_STATE": str(gameday_mesh.state_file)}
    process = subprocess.Popen(
        [str(gameday), "run", str(path), "--runs-dir", str(runs), "--no-live"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not _after_started(runs):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the after tail never started"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    # An interrupt is an interrupt: exit 3, like Ctrl-C anywhere else in the run.
    assert process.returncode == 3, out + err
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    events = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    tail = {e["edge"]: e["ts"] for e in events if e["kind"] == "phase" and e["name"] == "after"}
    assert tail["end"] - tail["start"] < 30, tail  # cut short, not the declared 60 s
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "aborted"
    assert (run_dir / "load" / "summary.json").exists()  # load was stopped
