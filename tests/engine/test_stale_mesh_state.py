"""A mesh state file whose owner died: a run against it names the file and the dead owner,
exits 4 and applies nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.targets.launcher.state import MeshState, ReplicaState, ServiceState, write_state


@pytest.fixture
def stale_state(tmp_path: Path) -> tuple[Path, int]:
    owner = subprocess.Popen([sys.executable, "-c", "pass"])
    owner.wait(timeout=30)  # gone: its pid names no live mesh
    path = tmp_path / "mesh.json"
    write_state(
        path,
        MeshState(
            owner_pid=owner.pid,
            owner_create_time=1.0,
            started_at=datetime.now(UTC),
            state_dir=str(tmp_path),
            topology="topology.yaml",
            proxy_api="http://127.0.0.1:1",
            gateway_url="http://127.0.0.1:2",
            services={
                "payments": ServiceState(
                    address="127.0.0.1:3",
                    replicas=[ReplicaState(index=0, pid=owner.pid, port=4)],
                )
            },
        ),
    )
    return path, owner.pid


def test_run_against_a_dead_mesh_names_the_state_file_and_applies_nothing(
    tmp_path: Path, stale_state: tuple[Path, int]
) -> None:
    state, dead_pid = stale_state
    experiment = tmp_path / "latency.yaml"
    experiment.write_text(
        f"""\
title: latency on a dead mesh
description: an engine test
target: {{kind: mesh, mesh_state: {state}}}
load: false
method:
  - type: action
    name: slow-payments
    provider:
      type: python
      module: chaos.faults.network
      func: add_latency
      arguments: {{edge: "orders->payments", latency_ms: 100}}
"""
    )
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["run", str(experiment), "--no-live", "--runs-dir", str(runs)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 4, result.output
    said = " ".join(result.output.split())
    assert f"the mesh in {state} is not running (its owner, pid {dead_pid}, is gone)" in said
    [run_dir] = [path for path in runs.iterdir() if path.is_dir()]
    assert not (run_dir / "ledger.jsonl").exists()  # no fault was even attempted
