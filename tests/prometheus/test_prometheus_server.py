"""The mesh's own Prometheus: it scrapes every replica, follows a supervisor restart through
its file_sd target list alone, and stops with the mesh (also when its owner is killed)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.targets.launcher import MeshHandle, start_mesh
from chaos.targets.launcher.prometheus import PROMETHEUS_ENV, PrometheusMissing
from tests.prometheus.scrape import instant, require_prometheus, wait_all_up, wait_for


def _active_targets(url: str) -> list[dict]:
    response = httpx.get(f"{url}/api/v1/targets", timeout=5.0)
    response.raise_for_status()
    return response.json()["data"]["activeTargets"]


def test_every_replica_is_a_healthy_target_with_its_service_and_index(
    prometheus_mesh: MeshHandle,
) -> None:
    state = prometheus_mesh.state
    assert state.prometheus_url and state.prometheus_url.startswith("http://127.0.0.1:")
    wanted = {
        (name, str(replica.index), f"127.0.0.1:{replica.port}")
        for name, service in state.services.items()
        for replica in service.replicas
    }
    targets = _active_targets(state.prometheus_url)
    seen = {
        (t["labels"]["service"], t["labels"]["replica"], t["labels"]["instance"])
        for t in targets
        if t["health"] == "up"
    }
    assert seen == wanted
    # The shop's own `service` label is kept (honor_labels), not renamed exported_service.
    series = instant(state.prometheus_url, 'shop_circuit_breaker_state{edge="orders->payments"}')
    assert {s["metric"]["service"] for s in series} == {"orders"}
    assert not any("exported_service" in s["metric"] for s in series)


def test_a_restarted_replica_is_scraped_at_its_new_port_without_a_config_change(
    prometheus_mesh: MeshHandle,
) -> None:
    server = prometheus_mesh.prometheus
    assert server is not None
    config_before = server.config_file.read_bytes()
    old = prometheus_mesh.state.services["catalog"].replicas[0]
    os.kill(old.pid, signal.SIGKILL)

    def restarted() -> bool:
        replica = prometheus_mesh.state.services["catalog"].replicas[0]
        return replica.pid != old.pid and replica.restarts > old.restarts and replica.port > 0

    wait_for(restarted, "the supervisor did not restart catalog 0")
    new = prometheus_mesh.state.services["catalog"].replicas[0]
    assert json.loads(server.targets_file.read_text()) == [
        {"targets": [f"127.0.0.1:{r.port}"], "labels": {"service": s, "replica": str(r.index)}}
        for s, r in sorted(
            (
                (name, replica)
                for name, service in prometheus_mesh.state.services.items()
                for replica in service.replicas
            ),
            key=lambda pair: (pair[0], pair[1].index, pair[1].port),
        )
    ]

    def scraped_at_new_port() -> bool:
        result = instant(
            prometheus_mesh.state.prometheus_url or "",
            f'up{{service="catalog",replica="0",instance="127.0.0.1:{new.port}"}} == 1',
        )
        return bool(result)

    wait_for(scraped_at_new_port, f"catalog 0 was not scraped at its new port {new.port}")
    if new.port != old.port:
        instances = {t["labels"]["instance"] for t in _active_targets(server.url)}
        assert f"127.0.0.1:{old.port}" not in instances
    assert server.config_file.read_bytes() == config_before
    wait_all_up(prometheus_mesh)


def test_prometheus_stops_with_the_mesh(tmp_path: Path) -> None:
    require_prometheus()
    handle = start_mesh(tmp_path / "mesh", replicas={"catalog": 1}, prometheus=True)
    try:
        server = handle.prometheus
        assert server is not None and server.pid is not None
        pid, port = server.pid, int(server.url.rsplit(":", 1)[1])
        assert httpx.get(f"{server.url}/-/ready", timeout=5.0).status_code == 200
    finally:
        handle.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert not (tmp_path / "mesh" / "mesh.json").exists()


def test_a_missing_binary_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-prometheus"
    monkeypatch.setenv(PROMETHEUS_ENV, str(missing))
    with pytest.raises(PrometheusMissing, match=str(missing)):
        start_mesh(tmp_path / "mesh", prometheus=True)
    assert not (tmp_path / "mesh" / "logs").exists()

    state_file = tmp_path / "cli" / "mesh.json"
    result = CliRunner().invoke(
        app,
        ["mesh", "up", "--prometheus", "--state-file", str(state_file)],
        env={"COLUMNS": "1000"},
    )
    assert result.exit_code == 4, result.output
    output = " ".join(result.output.split())
    assert str(missing) in output and "apt-get install prometheus" in output
    assert "Traceback" not in result.output
    assert not state_file.exists()


def test_prometheus_dies_with_a_killed_mesh_owner(tmp_path: Path) -> None:
    require_prometheus()
    owner_code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from chaos.targets.launcher import start_mesh\n"
        "handle = start_mesh(Path(sys.argv[1]), replicas={'catalog': 1}, prometheus=True)\n"
        "print(handle.prometheus.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", owner_code, str(tmp_path / "mesh")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        line = owner.stdout.readline() if owner.stdout else ""
        assert line.strip().isdigit(), "the owner did not start its mesh"
        pid = int(line)
        assert "prometheus" in psutil.Process(pid).name()
    finally:
        owner.kill()
        owner.wait(10)

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(gone, f"prometheus (pid {pid}) outlived its killed owner", timeout_s=15)
