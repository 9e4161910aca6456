"""A real short run against the mesh (slow): load keeps running `load.after_s` past the
steady state after and the rollbacks, so the report's "after" row measures real traffic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.report import build_report

pytestmark = pytest.mark.slow

AFTER_S = 3
EXPERIMENT = f"""\
title: after window
description: a short holding run whose report must have an "after" row
target: mesh
load: {{users: 6, spawn_rate: 6, warmup_s: 1, baseline_s: 2, recovery_s: 1, after_s: {AFTER_S}}}
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
    path.write_text(EXPERIMENT)
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
    # The load was stopped after the tail, not before it.
    load = json.loads((run_dir / "load" / "summary.json").read_text())
    assert load["started_at"] + load["duration_s"] >= phases[("after", "end")]

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
