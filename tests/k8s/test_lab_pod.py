"""chaos.targets.lab_pod: the image's entrypoint, wired to the sidecar listeners."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from chaos.targets.lab_pod import EDGE_PORTS, pod_config
from chaos.targets.shop.topology import load_topology


def test_every_edge_goes_through_the_sidecar_with_the_topology_policy(tmp_path: Path) -> None:
    topology = load_topology()
    for service in topology.services:
        config = pod_config(service, tmp_path, topology)
        assert set(config.edges) == set(topology.callees(service))
        for callee, edge in config.edges.items():
            assert edge.name == f"{service}->{callee}"
            assert edge.url == f"http://127.0.0.1:{EDGE_PORTS[callee]}"
            assert edge.policy == topology.edges[edge.name]
    assert pod_config("gateway", tmp_path, topology).rate_limit is not None


def test_the_entrypoint_serves_a_service_and_its_probes(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaos.targets.lab_pod",
            "catalog",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("catalog ready on 127.0.0.1:"), line
        url = f"http://{line.rsplit(' ', 1)[1].strip()}"
        deadline = time.monotonic() + 20
        while True:
            try:
                ready = httpx.get(f"{url}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert ready.status_code == 200
        assert httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        assert len(httpx.get(f"{url}/products", timeout=2).json()) > 0
        assert (tmp_path / "data" / "catalog.db").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()


def test_an_unknown_service_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chaos.targets.lab_pod", "basket", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown service 'basket'" in result.stderr
