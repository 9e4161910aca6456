"""Starting and stopping meshes: nothing is left behind, the detached mesh is found and
stopped through the CLI, and bad input is refused with exit code 2."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.targets.launcher import MeshNotRunning, load_mesh_state, start_mesh

ONE_EACH = {
    name: 1
    for name in (
        "gateway",
        "catalog",
        "recommendations",
        "inventory",
        "payments",
        "orders",
        "notifications",
    )
}


def _ports(state) -> list[str]:  # type: ignore[no-untyped-def]
    addresses = [state.proxy_api.removeprefix("http://")]
    for service in state.services.values():
        addresses.append(service.address)
        addresses += [f"127.0.0.1:{r.port}" for r in service.replicas]
    addresses += [edge.listen for edge in state.edges.values()]
    return addresses


def _running(pid: int) -> bool:
    """Alive and not a zombie (orphans of the killed zygote wait for init to reap them)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _replica_pids(state) -> set[int]:  # type: ignore[no-untyped-def]
    return {r.pid for s in state.services.values() for r in s.replicas}


def _zygote_of(state) -> psutil.Process:  # type: ignore[no-untyped-def]
    parents = {psutil.Process(pid).ppid() for pid in _replica_pids(state)}
    assert len(parents) == 1, parents
    zygote = psutil.Process(parents.pop())
    assert "chaos.targets.launcher.zygote" in zygote.cmdline()
    return zygote


@pytest.mark.slow
def test_zygote_killed_mesh_recovers_and_stop_leaves_nothing_behind(tmp_path: Path) -> None:
    handle = start_mesh(tmp_path / "mesh", replicas=ONE_EACH)
    try:
        first = handle.state
        assert load_mesh_state(handle.state_file).owner_pid == os.getpid()
        first_pids = _replica_pids(first)
        assert len(first_pids) == 7
        # Other meshes (session fixtures of other suites) may be children of this process
        # too, so find this mesh's zygote through its replicas.
        zygote = _zygote_of(first)
        zygote.kill()  # every replica dies with it; the supervisor must rebuild them all
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pids = _replica_pids(load_mesh_state(handle.state_file))
            ready = handle.replica_ready()
            if not pids & first_pids and all(all(r) for r in ready.values()):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the replicas were not rebuilt after the zygote died")
        assert not any(_running(pid) for pid in first_pids)
        with httpx.Client(base_url=first.gateway_url, timeout=15) as client:
            assert client.get("/products/2").status_code == 200
        state = handle.state
        children = psutil.Process().children(recursive=True)
        assert _replica_pids(state) <= {c.pid for c in children}
        ours = [_zygote_of(state), *(psutil.Process(pid) for pid in _replica_pids(state))]
    finally:
        handle.stop()
    _, alive = psutil.wait_procs(ours, timeout=10)
    assert alive == []
    # Every replica is gone, so any socket left would be ours (proxy or balancers). Not a
    # connect test: another process on the machine may reuse a freed port at once.
    ports = {int(address.rsplit(":", 1)[1]) for address in _ports(state)}
    assert ports
    left = [c for c in psutil.Process().net_connections("tcp") if c.laddr.port in ports]
    assert left == []
    assert not handle.state_file.exists()
    with pytest.raises(MeshNotRunning):
        load_mesh_state(handle.state_file)


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    state_file = tmp_path / "gameday" / "mesh.json"
    env = {"GAMEDAY_MESH_STATE": str(state_file), "COLUMNS": "200"}
    try:
        yield env
    finally:
        # Whatever happened above, no daemon survives the test.
        try:
            owner = load_mesh_state(state_file).owner_pid
        except MeshNotRunning:
            owner = None
        if owner is not None:
            os.killpg(owner, signal.SIGTERM)
            try:
                psutil.Process(owner).wait(20)
            except psutil.TimeoutExpired:
                os.killpg(owner, signal.SIGKILL)


@pytest.mark.slow
def test_cli_detached_up_status_check_down(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    up = runner.invoke(app, ["mesh", "up", "--detach", "--replicas", "catalog=1"], env=cli_env)
    assert up.exit_code == 0, up.output
    assert "gateway:" in up.output and "client->gateway" in up.output
    again = runner.invoke(app, ["mesh", "up", "--detach"], env=cli_env)
    assert again.exit_code == 2 and "already running" in again.output
    status = runner.invoke(app, ["mesh", "status", "--json"], env=cli_env)
    assert status.exit_code == 0, status.output
    state = json.loads(status.output)
    assert len(state["services"]["catalog"]["replicas"]) == 1
    daemon = psutil.Process(state["owner_pid"])
    replicas = [r["pid"] for s in state["services"].values() for r in s["replicas"]]
    assert all(state["owner_pid"] in {p.pid for p in psutil.Process(pid).parents()}
               for pid in replicas)  # fmt: skip
    checked = runner.invoke(app, ["mesh", "check"], env=cli_env)
    assert checked.exit_code == 0, checked.output
    assert "charged_exactly_once" in checked.output
    down = runner.invoke(app, ["mesh", "down"], env=cli_env)
    assert down.exit_code == 0, down.output
    assert not daemon.is_running()
    assert not any(_running(pid) for pid in replicas)
    assert not Path(cli_env["GAMEDAY_MESH_STATE"]).exists()
    gone = runner.invoke(app, ["mesh", "status"], env=cli_env)
    assert gone.exit_code == 2 and "no mesh state file" in gone.output


def test_cli_rejects_bad_input(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["mesh", "up", "--replicas", "catalog"], env=cli_env)
    assert bad.exit_code == 2 and "SERVICE=N" in bad.output
    unknown = runner.invoke(app, ["mesh", "up", "--replicas", "billing=2"], env=cli_env)
    assert unknown.exit_code == 2 and "billing" in unknown.output
    topology = tmp_path / "t.yaml"
    topology.write_text("services: {gateway: {replicas: zero}}\nedges: {}\n")
    broken = runner.invoke(app, ["mesh", "up", "--topology", str(topology)], env=cli_env)
    assert broken.exit_code == 2 and f"{topology}:1" in broken.output
    assert "Traceback" not in broken.output
    down = runner.invoke(app, ["mesh", "down"], env=cli_env)
    assert down.exit_code == 0 and "no mesh running" in down.output
    check = runner.invoke(app, ["mesh", "check"], env=cli_env)
    assert check.exit_code == 2
