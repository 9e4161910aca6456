"""Fixtures of the Kubernetes tests: the API stand-in and a silent API server."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

# importlib import mode: make the stand-in module importable by the test modules.
sys.path.insert(0, str(Path(__file__).parent))

from k8s_standin import StandIn, serve_standin, write_kubeconfig  # noqa: E402


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    with serve_standin(tmp_path) as running:
        yield running


@pytest.fixture
def silent_server(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig pointing at a socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
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
