"""Fixtures: the Kubernetes API stand-in of tests/k8s, and Toxiproxy sidecars for its pods."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

# importlib import mode: reuse the stand-in module of tests/k8s as it is.
sys.path.insert(0, str(Path(__file__).parent.parent / "k8s"))

from k8s_standin import ApiState, Handler, StandIn, write_kubeconfig  # noqa: E402

from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient  # noqa: E402

# The shop's outbound edges, as the sidecars of k8s/shop/toxiproxy carry them.
EDGES = {
    "orders": ["orders->payments", "orders->inventory"],
    "gateway": ["client->gateway", "gateway->orders"],
}


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    state = ApiState()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield StandIn(url, state, write_kubeconfig(tmp_path / "kubeconfig", url))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def shop(standin: StandIn) -> Iterator[dict[str, str]]:
    """catalog (2 pods, replaced when deleted), orders (2) and gateway (1) with a sidecar
    each; returns pod -> sidecar API URL."""
    standin.state.replace_deleted = True
    standin.state.add_app("catalog", 2)
    standin.state.add_app("orders", 2)
    standin.state.add_app("gateway", 1)
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        for app, edges in EDGES.items():
            for pod in standin.state.app_pods(app):
                server = stack.enter_context(EmbeddedProxyServer(host="127.0.0.1", port=0))
                with ToxiproxyClient(server.url) as client:
                    for edge in edges:
                        client.create_proxy(edge, upstream="127.0.0.1:9", listen="127.0.0.1:0")
                name = pod["metadata"]["name"]
                host, port = server.url.removeprefix("http://").rsplit(":", 1)
                standin.state.sidecars[name] = (host, int(port))
                urls[name] = server.url
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
