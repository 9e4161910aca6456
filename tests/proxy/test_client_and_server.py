"""The typed client's errors and timeouts, and the embedded server's lifecycle."""

from __future__ import annotations

import socket
import time

import pytest

from chaos.proxy import (
    AlreadyExists,
    EmbeddedProxyServer,
    InvalidRequest,
    NotFound,
    ProxyInfo,
    ProxyUnreachable,
    ToxiproxyClient,
    ToxiproxyError,
)

from .conftest import listening


def test_unreachable_api_raises_proxy_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        ToxiproxyClient(f"127.0.0.1:{port}", timeout=1) as client,
        pytest.raises(ProxyUnreachable) as info,
    ):
        client.version()
    assert info.value.status == 0
    assert isinstance(info.value, ToxiproxyError)


def test_silent_api_times_out():
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with ToxiproxyClient(url, timeout=0.3) as client:
            started = time.monotonic()
            with pytest.raises(ProxyUnreachable, match="timed out"):
                client.proxies()
            assert time.monotonic() - started < 3
    finally:
        silent.close()


def test_populate_accepts_proxy_infos_and_keeps_unchanged_ones(client, echo):
    first = client.create_proxy("a", upstream=echo.address)
    client.add_toxic("a", "noop", name="kept")
    again = client.populate([first, {"name": "b", "upstream": echo.address}])
    assert [p.name for p in again] == ["a", "b"]
    assert isinstance(again[0], ProxyInfo) and again[0].listen == first.listen
    assert [t.name for t in client.toxics("a")] == ["kept"]
    assert again[1].listen_host == "127.0.0.1"


def test_client_errors_are_typed_with_status_and_message(client):
    with pytest.raises(NotFound) as info:
        client.add_toxic("nope", "latency")
    assert (info.value.status, info.value.message) == (404, "proxy not found")
    client.create_proxy("p", upstream="127.0.0.1:9")
    with pytest.raises(AlreadyExists) as exists:
        client.create_proxy("p", upstream="127.0.0.1:9")
    assert (exists.value.status, exists.value.message) == (409, "proxy already exists")


def test_embedded_server_lifecycle_and_config():
    server = EmbeddedProxyServer(
        port=0,
        config=[
            {
                "name": "cfg",
                "upstream": "127.0.0.1:9",
                "toxics": [{"type": "latency", "attributes": {"latency": 5}}],
            }
        ],
    )
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        with ToxiproxyClient(server.url) as client:
            proxy = client.get_proxy("cfg")
            assert [t.name for t in proxy.toxics] == ["latency_downstream"]
            port = proxy.listen_port
            assert listening(port)
        api_port = int(server.url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            EmbeddedProxyServer(port=api_port).start()
    assert not listening(port)
    assert not listening(api_port)


def test_embedded_server_rejects_bad_config():
    server = EmbeddedProxyServer(
        config=[{"name": "x", "upstream": "127.0.0.1:9", "toxics": [{"type": "nope"}]}]
    )
    with pytest.raises(InvalidRequest, match="invalid toxic type"):
        server.start()
    with pytest.raises(RuntimeError):
        _ = server.url
