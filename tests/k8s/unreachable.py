"""Fixtures for API servers that cannot be reached: a loopback port nothing listens on,
and a socket that accepts connections and never answers (tiny local sockets, not a
stand-in of the API). Registered from tests/conftest.py."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig naming `server` with a token user, current context included."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "unreachable", "cluster": {"server": server}}],
        "users": [{"name": "runner", "user": {"token": "unused"}}],
        "contexts": [
            {
                "name": "unreachable",
                "context": {"cluster": "unreachable", "user": "runner", "namespace": "gameday-lab"},
            }
        ],
        "current-context": "unreachable",
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def refused_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig naming a loopback port nothing listens on."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return write_kubeconfig(tmp_path / "refused-kubeconfig", f"http://127.0.0.1:{port}")


@pytest.fixture
def silent_kubeconfig(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig naming a socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield write_kubeconfig(
            tmp_path / "silent-kubeconfig", f"http://127.0.0.1:{listener.getsockname()[1]}"
        )
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()
