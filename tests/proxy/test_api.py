"""Toxiproxy's api_test.go inventory (34 checks), ported to the embedded server."""

from __future__ import annotations

import httpx
import pytest

from chaos.proxy import (
    AlreadyExists,
    EmbeddedProxyServer,
    InvalidRequest,
    NotFound,
    ToxiproxyClient,
    ToxiproxyError,
)

from .conftest import free_port, listening


def raw(server: EmbeddedProxyServer, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, server.url + path, timeout=5, trust_env=False, **kwargs)


def test_request_id_header(server):
    response = raw(server, "GET", "/version")
    assert len(response.headers["X-Toxiproxy-Request-Id"]) == 20


def test_browser_gets_403(server):
    response = raw(server, "GET", "/proxies", headers={"User-Agent": "Mozilla/5.0 (Linux)"})
    assert response.status_code == 403
    assert response.text == "User agent not allowed\n"


def test_non_browser_gets_200(server):
    response = raw(server, "GET", "/proxies", headers={"User-Agent": "Wget/2.1"})
    assert response.status_code == 200


def test_index_with_no_proxies(client):
    assert client.proxies() == {}


def test_create_proxy_blank_name(client, echo):
    with pytest.raises(InvalidRequest, match="^HTTP 400: missing required field: name$"):
        client.create_proxy("", upstream=echo.address)


def test_create_proxy_blank_upstream(client):
    with pytest.raises(InvalidRequest) as info:
        client.create_proxy("mysql_master", upstream="")
    assert info.value.message == "missing required field: upstream"


def test_populate_proxy(client, echo):
    ports = [free_port(), free_port()]
    created = client.populate(
        [
            {"name": "one", "listen": f"localhost:{ports[0]}", "upstream": echo.address},
            {"name": "two", "listen": f"localhost:{ports[1]}", "upstream": echo.address},
        ]
    )
    assert [p.name for p in created] == ["one", "two"]
    assert [p.listen for p in created] == [f"127.0.0.1:{port}" for port in ports]
    assert all(listening(port) for port in ports)


def test_populate_default_enabled(server, client, echo):
    body = [{"name": "one", "listen": "127.0.0.1:0", "upstream": echo.address}]
    response = raw(server, "POST", "/populate", json=body)
    assert response.status_code == 201
    proxy = response.json()["proxies"][0]
    assert proxy["enabled"] is True
    assert listening(int(proxy["listen"].rsplit(":", 1)[1]))


def test_populate_disabled_proxy(client, echo):
    ports = [free_port(), free_port()]
    created = client.populate(
        [
            {"name": "one", "listen": f"127.0.0.1:{ports[0]}", "upstream": echo.address},
            {
                "name": "two",
                "listen": f"127.0.0.1:{ports[1]}",
                "upstream": echo.address,
                "enabled": False,
            },
        ]
    )
    assert [p.enabled for p in created] == [True, False]
    assert listening(ports[0]) and not listening(ports[1])


def test_populate_existing_proxy(client, echo):
    ports = [free_port(), free_port()]
    client.create_proxy("one", upstream=echo.address, listen=f"localhost:{ports[0]}")
    client.create_proxy("two", upstream=echo.address, listen=f"localhost:{ports[1]}")
    client.add_toxic("one", "latency", name="kept", attributes={"latency": 10})
    new_port = free_port()
    created = client.populate(
        [
            {"name": "one", "listen": f"127.0.0.1:{ports[0]}", "upstream": echo.address},
            {"name": "two", "listen": f"127.0.0.1:{new_port}", "upstream": echo.address},
        ]
    )
    assert [p.listen for p in created] == [f"127.0.0.1:{ports[0]}", f"127.0.0.1:{new_port}"]
    assert [t.name for t in client.toxics("one")] == ["kept"]
    assert listening(ports[0]) and listening(new_port) and not listening(ports[1])


def test_populate_with_bad_name(client, echo):
    with pytest.raises(InvalidRequest) as info:
        client.populate(
            [
                {"name": "one", "listen": "127.0.0.1:0", "upstream": echo.address},
                {"name": "", "listen": "127.0.0.1:0", "upstream": echo.address},
            ]
        )
    assert info.value.message == "missing required field: name at proxy 2"
    assert client.proxies() == {}


def test_populate_with_bad_data_returns_error(server, client, echo):
    body = [
        {"name": "one", "listen": "127.0.0.1:0", "upstream": echo.address},
        {"name": "two", "listen": "local373", "upstream": echo.address},
        {"name": "three", "listen": "127.0.0.1:0", "upstream": echo.address},
    ]
    response = raw(server, "POST", "/populate", json=body)
    assert response.status_code == 500
    error = response.json()
    assert error["error"] == "listen tcp: address local373: missing port in address"
    assert [p["name"] for p in error["proxies"]] == ["one"]
    assert list(client.proxies()) == ["one"]


def test_populate_add_toxic(client, echo):
    client.populate([{"name": "one", "listen": "127.0.0.1:0", "upstream": echo.address}])
    toxic = client.add_toxic("one", "latency", name="foobar")
    assert toxic.name == "foobar"


def test_listing_proxies(client, echo):
    port = free_port()
    client.create_proxy("mysql_master", upstream="localhost:3306", listen=f"localhost:{port}")
    proxies = client.proxies()
    assert list(proxies) == ["mysql_master"]
    proxy = proxies["mysql_master"]
    assert proxy.listen == f"127.0.0.1:{port}"
    assert proxy.upstream == "localhost:3306"
    assert proxy.toxics == []


def test_create_and_get_proxy(client):
    created = client.create_proxy("mysql_master", upstream="localhost:3306")
    got = client.get_proxy("mysql_master")
    assert got == created
    assert got.enabled is True


def test_create_proxy_with_save(server, client):
    # Toxiproxy's Save(): POST /proxies, then POST /proxies/{name} with the full object.
    port = free_port()
    body = {"name": "mysql_master", "listen": f"localhost:{port}", "upstream": "localhost:3306"}
    first = raw(server, "POST", "/proxies", json={**body, "enabled": True, "toxics": None})
    assert first.status_code == 201
    saved = raw(server, "POST", "/proxies/mysql_master", json=first.json())
    assert saved.status_code == 200
    assert saved.json()["listen"] == f"127.0.0.1:{port}"
    assert listening(port)


def test_create_disabled_proxy(client):
    port = free_port()
    proxy = client.create_proxy(
        "mysql_master", upstream="localhost:3306", listen=f"localhost:{port}", enabled=False
    )
    assert proxy.enabled is False
    assert proxy.listen == f"localhost:{port}"
    assert not listening(port)


def test_create_disabled_proxy_and_enable(client):
    port = free_port()
    client.create_proxy(
        "mysql_master", upstream="localhost:3306", listen=f"localhost:{port}", enabled=False
    )
    assert client.update_proxy("mysql_master", enabled=True).enabled is True
    assert listening(port)
    assert client.update_proxy("mysql_master", enabled=False).enabled is False
    assert not listening(port)


def test_delete_proxy(client):
    port = free_port()
    client.create_proxy("mysql_master", upstream="localhost:3306", listen=f"127.0.0.1:{port}")
    client.delete_proxy("mysql_master")
    assert not listening(port)
    assert client.proxies() == {}
    with pytest.raises(NotFound, match="proxy not found"):
        client.delete_proxy("mysql_master")


def test_create_proxy_port_conflict(client):
    port = free_port()
    client.create_proxy("mysql_master", upstream="localhost:3306", listen=f"localhost:{port}")
    with pytest.raises(ToxiproxyError) as info:
        client.create_proxy("mysql_slave", upstream="localhost:3307", listen=f"localhost:{port}")
    assert info.value.status == 500
    assert info.value.message == f"listen tcp 127.0.0.1:{port}: bind: address already in use"
    client.delete_proxy("mysql_master")
    client.create_proxy("mysql_slave", upstream="localhost:3307", listen=f"localhost:{port}")


def test_create_proxy_name_conflict(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    with pytest.raises(AlreadyExists, match="^HTTP 409: proxy already exists$"):
        client.create_proxy("mysql_master", upstream="localhost:3306")


def test_reset_state(client):
    port = free_port()
    client.create_proxy(
        "mysql_master", upstream="localhost:3306", listen=f"127.0.0.1:{port}", enabled=False
    )
    client.add_toxic("mysql_master", "latency", attributes={"latency": 100})
    client.reset()
    proxy = client.get_proxy("mysql_master")
    assert proxy.enabled is True and proxy.toxics == []
    assert listening(port)


def test_listing_toxics(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    assert client.toxics("mysql_master") == []


def test_add_toxic(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    client.add_toxic(
        "mysql_master", "latency", name="foobar", attributes={"latency": 100, "jitter": 10}
    )
    (toxic,) = client.toxics("mysql_master")
    assert (toxic.name, toxic.type, toxic.stream) == ("foobar", "latency", "downstream")
    assert toxic.attributes == {"latency": 100, "jitter": 10}
    assert toxic.toxicity == 1.0


def test_add_multiple_toxics(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    client.add_toxic("mysql_master", "latency", name="latency1")
    client.add_toxic("mysql_master", "latency", name="latency2")
    toxics = client.toxics("mysql_master")
    assert [t.name for t in toxics] == ["latency1", "latency2"]
    assert all(t.attributes == {"latency": 0, "jitter": 0} for t in toxics)


def test_add_conflicting_toxic(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    client.add_toxic("mysql_master", "latency", name="foobar")
    with pytest.raises(AlreadyExists, match="toxic already exists"):
        client.add_toxic("mysql_master", "slow_close", name="foobar")
    (toxic,) = client.toxics("mysql_master")
    assert toxic.type == "latency"


def test_add_conflicting_toxics_multistream(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    client.add_toxic("mysql_master", "latency", name="foobar", stream="upstream")
    with pytest.raises(AlreadyExists):
        client.add_toxic("mysql_master", "latency", name="foobar", stream="downstream")
    assert len(client.toxics("mysql_master")) == 1


def test_add_conflicting_toxics_multistream_defaults(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    client.add_toxic("mysql_master", "latency", stream="upstream")
    client.add_toxic("mysql_master", "latency", stream="downstream")
    names = [t.name for t in client.toxics("mysql_master")]
    assert names == ["latency_upstream", "latency_downstream"]


def test_add_toxic_with_toxicity(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    client.add_toxic("mysql_master", "latency", name="foobar", toxicity=0.2)
    assert client.get_toxic("mysql_master", "foobar").toxicity == pytest.approx(0.2)


def test_add_noop(server, client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    response = raw(server, "POST", "/proxies/mysql_master/toxics", json={"type": "noop"})
    assert response.status_code == 200
    assert response.json() == {
        "attributes": {},
        "name": "noop_downstream",
        "type": "noop",
        "stream": "downstream",
        "toxicity": 1,
    }


def test_update_toxics(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    client.add_toxic(
        "mysql_master", "latency", name="foobar", attributes={"latency": 100, "jitter": 10}
    )
    toxic = client.update_toxic("mysql_master", "foobar", attributes={"latency": 1000})
    assert toxic.attributes == {"latency": 1000, "jitter": 10}
    toxic = client.update_toxic("mysql_master", "foobar", toxicity=0.5)
    assert toxic.toxicity == 0.5
    toxic = client.update_toxic("mysql_master", "foobar", attributes={"jitter": 20})
    assert (toxic.toxicity, toxic.attributes) == (0.5, {"latency": 1000, "jitter": 20})


def test_remove_toxic(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    client.add_toxic("mysql_master", "latency", name="foobar")
    client.remove_toxic("mysql_master", "foobar")
    assert client.toxics("mysql_master") == []
    with pytest.raises(NotFound, match="toxic not found"):
        client.remove_toxic("mysql_master", "foobar")


def test_version_endpoint_returns_version(server):
    response = raw(server, "GET", "/version")
    assert response.content == b'{"version": "git"}\n'
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert ToxiproxyClient(server.url).version() == "git"


def test_invalid_stream(client):
    client.create_proxy("mysql_master", upstream="localhost:3306")
    with pytest.raises(InvalidRequest) as info:
        client.add_toxic("mysql_master", "latency", stream="walrustream")
    assert info.value.message == "stream was invalid, can be either upstream or downstream"
