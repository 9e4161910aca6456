"""The mesh state file: found, stale, missing, malformed; written atomically."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from chaos.targets.launcher import MeshNotRunning, MeshState, load_mesh_state
from chaos.targets.launcher.state import write_state


def _state(owner_pid: int, create_time: float | None = None) -> MeshState:
    return MeshState.model_validate(
        {
            "owner_pid": owner_pid,
            "owner_create_time": create_time,
            "started_at": datetime.now(UTC),
            "state_dir": "/tmp/x",
            "topology": "topology.yaml",
            "proxy_api": "http://127.0.0.1:1",
            "gateway_url": "http://127.0.0.1:2",
            "services": {
                "catalog": {
                    "address": "127.0.0.1:3",
                    "replicas": [{"index": 0, "pid": 10, "port": 11, "restarts": 1}],
                }
            },
            "edges": {"gateway->catalog": {"listen": "127.0.0.1:4", "upstream": "127.0.0.1:3"}},
        }  # fmt: skip
    )


def test_round_trip_and_env_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    me = psutil.Process(os.getpid())
    path = tmp_path / "state" / "mesh.json"
    write_state(path, _state(me.pid, me.create_time()))
    assert load_mesh_state(path).services["catalog"].replicas[0].restarts == 1
    monkeypatch.setenv("GAMEDAY_MESH_STATE", str(path))
    assert load_mesh_state().edges["gateway->catalog"].listen == "127.0.0.1:4"
    assert [p.name for p in path.parent.iterdir()] == ["mesh.json"]  # no temp file left


def test_missing_malformed_and_stale(tmp_path: Path) -> None:
    with pytest.raises(MeshNotRunning, match="no mesh state file"):
        load_mesh_state(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"owner_pid": "x"}')
    with pytest.raises(MeshNotRunning, match="not a mesh state file"):
        load_mesh_state(bad)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    stale = tmp_path / "stale.json"
    write_state(stale, _state(gone.pid))
    with pytest.raises(MeshNotRunning, match="is gone"):
        load_mesh_state(stale)
    reused = tmp_path / "reused.json"  # our pid, but a different process start time
    write_state(reused, _state(os.getpid(), create_time=1.0))
    with pytest.raises(MeshNotRunning):
        load_mesh_state(reused)
