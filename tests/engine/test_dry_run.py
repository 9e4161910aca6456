"""The dry-run plan resolves edges and replicas against a mesh state and touches nothing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.experiment import load_experiment
from chaos.experiment.models import Target
from chaos.safety.dry_run import build_plan

EXPERIMENT = """\
title: plan me
description: an engine test
target: mesh
load: {users: 7, warmup_s: 2, baseline_s: 3, recovery_s: 4}
guardrails:
  - {name: storm, metric: error_rate, above: 0.5, for_s: 5}
method:
  - type: action
    name: slow-payments
    provider:
      type: python
      module: chaos.faults.network
      func: add_latency
      arguments: {service: payments, latency_ms: 300}
    pauses: {after: 10}
  - type: action
    name: kill-catalog
    provider:
      type: python
      module: chaos.faults.process
      func: kill_replicas
      arguments: {service: catalog, percent: 50}
    pauses: {after: 5}
"""


def _state() -> SimpleNamespace:
    replicas = [SimpleNamespace(index=i, pid=1000 + i) for i in range(3)]
    return SimpleNamespace(
        edges={
            "orders->payments": {},
            "gateway->orders": {},
            "gateway->catalog": {},
            "refunds->payments": {},
        },
        services={"catalog": SimpleNamespace(replicas=replicas)},
    )


def test_plan_resolves_edges_replicas_and_blast_radius(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(EXPERIMENT)
    plan = build_plan(load_experiment(path), Target(kind="mesh"), _state())
    latency, kill = plan.steps
    assert latency.target == "*->payments"
    assert latency.resolved == ["orders->payments", "refunds->payments"]
    assert len(kill.resolved) == 3
    radius = plan.blast_radius
    assert radius.edges == ["orders->payments", "refunds->payments"]
    assert radius.services == ["catalog", "payments"]
    assert radius.replicas == {"catalog": "2 of 3"}
    assert radius.longest_fault_s == 15 and radius.users == 7
    assert plan.declared_s == 2 + 3 + 15 + 4 + 3  # load.after_s defaults to 3
    assert plan.guardrails == ["storm"]


def test_cli_dry_run_without_a_mesh_prints_the_plan(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GAMEDAY_MESH_STATE", str(tmp_path / "none.json"))
    path = tmp_path / "plan.yaml"
    path.write_text(EXPERIMENT)
    result = CliRunner().invoke(
        app, ["run", str(path), "--dry-run", "--runs-dir", str(tmp_path / "runs")]
    )
    assert result.exit_code == 0, result.output
    assert "slow-payments" in result.output and "blast radius" in result.output
    assert "resolve when the mesh starts" in result.output
    assert not (tmp_path / "runs").exists()


def test_target_option_overrides_the_experiment(tmp_path: Path) -> None:
    from chaos.engine import RunOptions, run_experiment

    path = tmp_path / "plan.yaml"
    # A cluster target needs its namespaces allow-listed and a gateway URL for the load.
    path.write_text(
        EXPERIMENT
        + "configuration:\n"
        + "  k8s_namespaces: [gameday-lab]\n"
        + "  k8s_gateway_url: http://127.0.0.1:8080\n"
    )
    result = run_experiment(path, RunOptions(target="k8s:kind-lab", dry_run=True))
    assert result.plan.target == "k8s:kind-lab"
    assert not result.plan.mesh_running
