"""Existing Toxiproxy clients, unchanged, against the embedded server."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

import pytest
import toxiproxy
from chaostoxi.proxy import actions as proxy_actions
from chaostoxi.proxy import probes as proxy_probes
from chaostoxi.toxic import actions as toxic_actions
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import NotFound as PyNotFound
from toxiproxy.exceptions import ProxyExists

from .conftest import listening, recv_exactly


@pytest.fixture
def toxiproxy_python(server, client):
    """toxiproxy-python pointed at the embedded server (its address is class state)."""
    saved = APIConsumer.host, APIConsumer.port
    url = urlsplit(server.url)
    api = toxiproxy.Toxiproxy()
    api.update_api_consumer(url.hostname, url.port)
    try:
        yield api
    finally:
        APIConsumer.host, APIConsumer.port = saved


def test_toxiproxy_python_round_trip(toxiproxy_python, echo, connect):
    api = toxiproxy_python
    assert api.running()
    assert api.version() == b'{"version": "git"}\n'
    proxy = api.create(upstream=echo.address, name="echo")
    port = int(proxy.listen.rsplit(":", 1)[1])
    assert port != 0
    with pytest.raises(ProxyExists):
        api.create(upstream=echo.address, name="echo")

    proxy.add_toxic(type="latency", attributes={"latency": 200})
    assert list(proxy.toxics()) == ["latency_downstream"]
    assert proxy.get_toxic("latency_downstream").attributes == {"latency": 200, "jitter": 0}
    sock = connect(port)
    started = time.monotonic()
    sock.sendall(b"ping")
    assert recv_exactly(sock, 4) == b"ping"
    assert time.monotonic() - started >= 0.2

    proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}
    with proxy.down():
        assert not listening(port)
    assert listening(port)
    assert set(api.proxies()) == {"echo"}
    assert api.reset()
    assert api.destroy(proxy)
    assert api.get_proxy("echo") is None
    with pytest.raises(PyNotFound):
        proxy.destroy()


def test_toxiproxy_python_populate_and_invalid_toxic(toxiproxy_python, echo):
    api = toxiproxy_python
    created = api.populate([{"name": "a", "upstream": echo.address, "listen": "127.0.0.1:0"}])
    assert [p.name for p in created] == ["a"]
    from toxiproxy.exceptions import InvalidToxic

    with pytest.raises(InvalidToxic):
        created[0].add_toxic(type="latency", stream="sideways")
    with pytest.raises(InvalidToxic):
        created[0].add_toxic(type="bandwidth", attributes={"rate": -1})


@pytest.fixture
def chaos_configuration(server, client):
    """A Chaos Toolkit configuration pointing chaostoolkit-toxiproxy at the server."""
    url = urlsplit(server.url)
    configuration = {"toxiproxy_host": url.hostname, "toxiproxy_port": url.port}
    try:
        yield configuration
    finally:
        for key in [k for k in os.environ if k.endswith("_PORT") and k.startswith("ctk")]:
            del os.environ[key]


def test_chaostoolkit_toxiproxy_actions_and_probes(chaos_configuration, echo, connect):
    cfg = chaos_configuration
    host, port = echo.address.split(":")
    assert proxy_actions.create_proxy(
        "ctk_echo",
        upstream_host=host,
        upstream_port=int(port),
        listen_host="127.0.0.1",
        configuration=cfg,
    )
    listen_port = int(cfg["ctk_echo_PORT"])
    assert listen_port > 0 and listening(listen_port)
    assert proxy_probes.proxy_exist("ctk_echo", configuration=cfg)
    assert proxy_probes.get_proxy_attribute("ctk_echo", "upstream", configuration=cfg) == (
        echo.address
    )

    assert toxic_actions.create_latency_toxic("ctk_echo", "slow", latency=150, configuration=cfg)
    sock = connect(listen_port)
    started = time.monotonic()
    sock.sendall(b"ping")
    assert recv_exactly(sock, 4) == b"ping"
    assert time.monotonic() - started >= 0.15
    assert toxic_actions.delete_toxic("ctk_echo", "slow", configuration=cfg)

    for create in (
        lambda: toxic_actions.create_bandwith_degradation_toxic("ctk_echo", "bw", 100, cfg),
        lambda: toxic_actions.create_slow_connection_close_toxic("ctk_echo", "sc", 10, cfg),
        lambda: toxic_actions.create_timeout_toxic("ctk_echo", "to", 1000, cfg),
        lambda: toxic_actions.create_slicer_toxic("ctk_echo", "sl", 64, 8, 10, cfg),
        lambda: toxic_actions.create_limiter_toxic("ctk_echo", "li", 1000, cfg),
        lambda: toxic_actions.create_toxic("ctk_echo", "no", "noop", configuration=cfg),
    ):
        assert create()

    assert proxy_actions.disable_proxy("ctk_echo", configuration=cfg)
    assert not listening(listen_port)
    assert proxy_actions.enable_proxy("ctk_echo", configuration=cfg)
    assert listening(listen_port)
    assert proxy_actions.reset(configuration=cfg)
    assert proxy_probes.get_proxy_attribute("ctk_echo", "toxics", configuration=cfg) == []
    proxy_actions.delete_proxy("ctk_echo", configuration=cfg)
    assert not proxy_probes.proxy_exist("ctk_echo", configuration=cfg)


def test_chaostoolkit_toxiproxy_default_wildcard_listen(chaos_configuration, echo):
    cfg = chaos_configuration
    host, port = echo.address.split(":")
    # The extension's default listen is 0.0.0.0:0; the reply must carry a numeric port.
    assert proxy_actions.create_proxy("ctk_wild", host, int(port), configuration=cfg)
    assert int(cfg["ctk_wild_PORT"]) > 0
    assert listening(int(cfg["ctk_wild_PORT"]))
