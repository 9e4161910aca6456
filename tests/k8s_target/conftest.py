"""Fixtures: the Kubernetes API stand-in of tests/k8s, and Toxiproxy sidecars for its pods."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# importlib import mode: reuse the stand-in module of tests/k8s as it is.
sys.path.insert(0, str(Path(__file__).parent.parent / "k8s"))

from k8s_standin import StandIn, serve_sidecars, serve_standin, write_kubeconfig  # noqa: E402

# The shop's outbound edges, as the sidecars of k8s/shop/toxiproxy carry them.
EDGES = {
    "orders": ["orders->payments", "orders->inventory"],
    "gateway": ["client->gateway", "gateway->orders"],
}


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    with serve_standin(tmp_path) as running:
        yield running


@pytest.fixture
def shop(standin: StandIn) -> Iterator[dict[str, str]]:
    """catalog (2 pods, replaced when deleted), orders (2) and gateway (1) with a sidecar
    each; returns pod -> sidecar API URL."""
    standin.state.replace_deleted = True
    standin.state.add_app("catalog", 2)
    standin.state.add_app("orders", 2)
    standin.state.add_app("gateway", 1)
    with serve_sidecars(standin.state, EDGES) as urls:
        yield urls


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
    try:
        yield write_kubeconfig(
            tmp_path / "silent-kubeconfig", f"http://127.0.0.1:{listener.getsockname()[1]}"
        )
    finally:
        listener.close()
