"""The monkey against a mesh state file (the format `chaos.targets.launcher` writes) that points
at real child processes of the test, standing in for replicas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import psutil
import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.gates import read_history
from chaos.monkey import MonkeyError
from chaos.monkey.replicas import confirm_replaced, mesh_replicas
from chaos.safety.ledger import Ledger
from chaos.targets.launcher.state import (
    MeshState,
    ReplicaState,
    ServiceState,
    load_mesh_state,
    write_state,
)


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


@pytest.fixture
def fake_mesh(tmp_path):
    procs = {("catalog", i): sleeper() for i in range(3)}
    procs[("payments", 0)] = sleeper()
    path = tmp_path / "mesh.json"

    def write(pids: dict[tuple[str, int], int]) -> None:
        services: dict[str, list[ReplicaState]] = {}
        for (service, index), pid in sorted(pids.items()):
            services.setdefault(service, []).append(
                ReplicaState(index=index, pid=pid, port=20000 + index)
            )
        write_state(
            path,
            MeshState(
                owner_pid=os.getpid(),
                owner_create_time=psutil.Process().create_time(),
                started_at=datetime.now(UTC),
                state_dir=str(tmp_path),
                topology="topology.yaml",
                proxy_api="http://127.0.0.1:1",
                gateway_url="http://127.0.0.1:2",
                services={
                    name: ServiceState(address="127.0.0.1:3", replicas=replicas)
                    for name, replicas in services.items()
                },
            ),
        )

    write({key: proc.pid for key, proc in procs.items()})
    try:
        yield path, procs, write
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=10)


def test_only_descendants_of_the_mesh_owner_are_listed(fake_mesh):
    path, procs, write = fake_mesh
    assert {(r.service, r.index) for r in mesh_replicas(path)} == set(procs)
    # a stale entry pointing at a process the mesh did not start (pid 1) is never listed
    write({**{key: proc.pid for key, proc in procs.items()}, ("catalog", 3): 1})
    assert ("catalog", 3) not in {(r.service, r.index) for r in mesh_replicas(path)}


def test_confirm_replaced_waits_for_a_new_pid(fake_mesh):
    path, procs, write = fake_mesh
    killed = procs[("catalog", 1)].pid
    with pytest.raises(MonkeyError, match="not replaced"):
        confirm_replaced("catalog", 1, killed, str(path), timeout_s=0.3)
    replacement = sleeper()
    try:
        write({**{k: p.pid for k, p in procs.items()}, ("catalog", 1): replacement.pid})
        assert confirm_replaced("catalog", 1, killed, str(path), timeout_s=5) == replacement.pid
    finally:
        replacement.kill()
        replacement.wait(timeout=10)


def test_gameday_monkey_kills_within_budget_and_records(fake_mesh, tmp_path):
    path, procs, _ = fake_mesh
    runs = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "monkey", "--service", "catalog", "--window", "always", "--mean-interval", "0.05s",
            "--budget", "2", "--seed", "3", "--mesh-state", str(path), "--runs-dir", str(runs),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "budget spent: 2 kill(s)" in result.output
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    events = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    killed = {e["pid"] for e in events if e["kind"] == "fault" and e["edge"] == "start"}
    assert len(killed) == 2
    for proc in procs.values():
        if proc.pid in killed:
            assert proc.wait(timeout=10) == -9
        else:
            assert proc.poll() is None  # the third catalog replica, and payments (not opted in)
    assert {p.pid for (service, _), p in procs.items() if service == "catalog"} >= killed
    ledger = Ledger(run_dir / "ledger.jsonl")
    assert [e.status for e in ledger.entries()] == ["expired", "expired"]
    assert all(e.undo.arguments["mesh_state"] == str(path) for e in ledger.entries())
    (entry,) = read_history(runs)
    assert (entry.experiment, entry.verdict, entry.exit_code) == ("monkey", "held", 0)
    assert load_mesh_state(path).owner_pid == os.getpid()


def test_gameday_monkey_refuses_unknown_services_and_missing_mesh(fake_mesh, tmp_path):
    path, procs, _ = fake_mesh
    base = ["monkey", "--window", "always", "--runs-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, [*base, "--service", "search", "--mesh-state", str(path)])
    assert result.exit_code == 2
    assert "search not in the mesh" in result.output
    missing = str(tmp_path / "none.json")
    result = CliRunner().invoke(app, [*base, "--service", "catalog", "--mesh-state", missing])
    assert result.exit_code == 4
    assert "no running mesh" in result.output
    result = CliRunner().invoke(app, [*base, "--service", "catalog", "--window", "9 to 5"])
    assert result.exit_code == 2
    assert all(proc.poll() is None for proc in procs.values())
