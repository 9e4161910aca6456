"""PromQL guardrails against the real Prometheus: the streak rules, a real run aborted and
rolled back when the orders->payments breakers open, and a run refused when there is no
Prometheus to ask or it refuses the guardrail's query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.engine import RunOptions, run_experiment
from chaos.experiment.models import Guardrail
from chaos.safety.ledger import Ledger
from chaos.safety.promql_guardrails import PromqlGuardrailState
from chaos.targets.launcher import MeshHandle
from chaos.targets.launcher.leftovers import leftover_faults, wait_until_settled

BREAKERS = 'max(shop_circuit_breaker_state{edge="orders->payments"})'


def _state(handle: MeshHandle, **fields: object) -> PromqlGuardrailState:
    assert handle.state.prometheus_url is not None
    return PromqlGuardrailState(Guardrail.model_validate(fields), handle.state.prometheus_url)


def test_consecutive_breaches_hold_and_gaps_errors_and_no_data_do_not(
    prometheus_mesh: MeshHandle,
) -> None:
    high = _state(prometheus_mesh, promql="vector(3)", above=2, for_s=2)
    assert high.evaluate(now=100.0) is False and high.last_value == 3.0
    assert high.evaluate(now=101.0) is True

    gapped = _state(prometheus_mesh, promql="vector(3)", above=2, for_s=2)
    assert gapped.evaluate(now=100.0) is False
    assert gapped.evaluate(now=102.0) is False  # 2 s since the last evaluation: a new streak
    assert gapped.evaluate(now=103.0) is True

    low = _state(prometheus_mesh, promql="vector(1)", below=2, for_s=1)
    assert low.evaluate(now=100.0) is True
    within = _state(prometheus_mesh, promql="vector(1)", above=2, for_s=1)
    assert within.evaluate(now=100.0) is False and within.streak == 0

    empty = _state(prometheus_mesh, promql="shop_no_such_metric", above=0, for_s=1)
    assert empty.evaluate(now=100.0) is False and empty.last_value is None

    broken = _state(prometheus_mesh, promql="sum(up", above=0, for_s=1)
    assert broken.evaluate(now=100.0) is False
    assert broken.last_error is not None and "sum(up" in broken.last_error


def _experiment(path: Path, guardrail: str, state_file: Path, load: str) -> Path:
    path.write_text(
        f"""
version: 1.0.0
title: PromQL guardrail
description: Orders cannot reach payments; the guardrail watches the breakers.
extensions:
  - name: gameday
    target: {{kind: mesh, mesh_state: "{state_file}"}}
    load: {load}
    guardrails:
      - {guardrail}
method:
  - type: action
    name: blackhole-orders-to-payments
    provider:
      type: python
      module: chaos.faults.network
      func: partition
      arguments: {{edge: "orders->payments", mode: blackhole, ttl_s: 120}}
    pauses: {{after: 60}}
rollbacks:
  - type: action
    name: heal-orders-to-payments
    provider:
      type: python
      module: chaos.faults.network
      func: heal_partition
      arguments: {{edge: "orders->payments"}}
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_a_run_aborts_when_the_payments_breakers_stay_open(
    prometheus_mesh: MeshHandle, tmp_path: Path
) -> None:
    wait_until_settled(prometheus_mesh.state)
    guardrail = f"{{name: breakers-open, promql: '{BREAKERS}', above: 1.5, for_s: 2}}"
    load = "{users: 10, spawn_rate: 10, warmup_s: 2, baseline_s: 1, recovery_s: 0, after_s: 0}"
    path = _experiment(tmp_path / "guardrail.yaml", guardrail, prometheus_mesh.state_file, load)
    try:
        result = run_experiment(path, RunOptions(runs_dir=tmp_path / "runs"))
        assert result.verdict == "aborted", result.reason
        assert result.exit_code == 3
        assert "breakers-open" in (result.reason or "")
        assert result.run_dir is not None
        events = [
            json.loads(line)
            for line in (result.run_dir / "timeline.jsonl").read_text().splitlines()
        ]
        tripped = [e for e in events if e["kind"] == "guardrail"]
        assert len(tripped) == 1
        assert tripped[0]["condition"] == f"promql {BREAKERS} > 1.5 for 2 s"
        assert tripped[0]["value"] == 2.0
        fault_start = next(e for e in events if e["kind"] == "fault" and e["edge"] == "start")
        # Aborted well before the method's 60 s pause ended.
        assert tripped[0]["ts"] - fault_start["ts"] < 45
        assert Ledger(result.run_dir / "ledger.jsonl").outstanding() == []
        assert leftover_faults(prometheus_mesh.state) == []
    finally:
        wait_until_settled(prometheus_mesh.state, timeout_s=60)


def test_a_promql_guardrail_without_prometheus_cannot_run(
    gameday_mesh: MeshHandle, tmp_path: Path
) -> None:
    guardrail = f"{{name: breakers-open, promql: '{BREAKERS}', above: 1.5, for_s: 2}}"
    path = _experiment(tmp_path / "guardrail.yaml", guardrail, gameday_mesh.state_file, "false")
    result = run_experiment(path, RunOptions(runs_dir=tmp_path / "runs"))
    assert result.verdict == "could_not_run" and result.exit_code == 4
    assert "breakers-open" in (result.reason or "")
    assert "gameday mesh up --prometheus" in (result.reason or "")
    assert result.run_dir is not None
    assert not (result.run_dir / "ledger.jsonl").exists() or (
        Ledger(result.run_dir / "ledger.jsonl").outstanding() == []
    )
    assert leftover_faults(gameday_mesh.state) == []


def test_a_guardrail_prometheus_refuses_cannot_run(
    prometheus_mesh: MeshHandle, tmp_path: Path
) -> None:
    guardrail = "{name: typo, promql: 'max(shop_circuit_breaker_state', above: 1.5, for_s: 2}"
    path = _experiment(tmp_path / "typo.yaml", guardrail, prometheus_mesh.state_file, "false")
    result = run_experiment(path, RunOptions(runs_dir=tmp_path / "runs"))
    assert result.verdict == "could_not_run" and result.exit_code == 4
    reason = result.reason or ""
    assert "typo" in reason and "max(shop_circuit_breaker_state" in reason
    assert "parse error" in reason
    assert leftover_faults(prometheus_mesh.state) == []
