"""Replica probes against real local HTTP servers listed in a mesh state file."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaos.probes.errors import InvalidProbeArgument, NotReady, ProbeTargetUnknown
from chaos.probes.replicas import all_replicas_ready, replicas_ready, seconds_until_ready


class Readiness(BaseHTTPRequestHandler):
    ready_at = 0.0  # per server class: /readyz answers 200 from this unix time on

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        ok = self.path == "/readyz" and time.time() >= self.ready_at
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()


def start(ready_at: float) -> ThreadingHTTPServer:
    handler = type("Handler", (Readiness,), {"ready_at": ready_at})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[dict]:
    now = time.time()
    servers = {
        "ready": start(ready_at=0),
        "not_ready": start(ready_at=now + 3600),
        "soon": start(ready_at=now + 2.0),
    }
    ports = {name: server.server_address[1] for name, server in servers.items()}
    state = {
        "owner_pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(),
        "state_dir": str(tmp_path),
        "topology": str(tmp_path / "topology.yaml"),
        "proxy_api": "http://127.0.0.1:1",
        "gateway_url": "http://127.0.0.1:2",
        "edges": {},
        "services": {
            "catalog": {
                "address": "127.0.0.1:3",
                "replicas": [
                    {"index": 0, "pid": os.getpid(), "port": ports["ready"], "restarts": 0},
                    {"index": 1, "pid": os.getpid(), "port": ports["not_ready"], "restarts": 0},
                    {"index": 2, "pid": os.getpid(), "port": free_port(), "restarts": 1},
                ],
            },
            "inventory": {
                "address": "127.0.0.1:4",
                "replicas": [
                    {"index": 0, "pid": os.getpid(), "port": ports["ready"], "restarts": 0},
                    {"index": 1, "pid": os.getpid(), "port": ports["soon"], "restarts": 0},
                ],
            },
        },
    }
    path = tmp_path / "mesh.json"
    path.write_text(json.dumps(state))
    try:
        yield {"gameday_mesh_state": str(path), "soon_ready_at": now + 2.0}
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()


def test_counts_ready_replicas(mesh: dict) -> None:
    # One ready, one answering 503, one whose port refuses connections.
    assert replicas_ready("catalog", configuration=mesh) == 1
    assert all_replicas_ready("catalog", configuration=mesh) is False


def test_seconds_until_ready_measures_the_time_to_recover(mesh: dict) -> None:
    # The second inventory replica turns ready 2 s after the fixture started it.
    assert seconds_until_ready("inventory", min_ready=1, configuration=mesh) < 1.0
    assert all_replicas_ready("inventory", configuration=mesh) is False
    remaining = mesh["soon_ready_at"] - time.time()
    waited = seconds_until_ready("inventory", timeout_s=15, configuration=mesh)
    assert waited >= remaining - 0.1
    assert all_replicas_ready("inventory", configuration=mesh) is True


def test_not_ready_within_the_timeout(mesh: dict) -> None:
    with pytest.raises(NotReady, match="catalog: 1 of 3 replicas ready after 0.5 s"):
        seconds_until_ready("catalog", timeout_s=0.5, poll_s=0.1, configuration=mesh)


def test_misuse(mesh: dict, tmp_path: Path) -> None:
    with pytest.raises(InvalidProbeArgument, match="no service 'nope'"):
        replicas_ready("nope", configuration=mesh)
    with pytest.raises(InvalidProbeArgument, match="min_ready"):
        seconds_until_ready("catalog", min_ready=0, configuration=mesh)
    with pytest.raises(ProbeTargetUnknown):
        replicas_ready("catalog", configuration={"gameday_mesh_state": str(tmp_path / "none")})
