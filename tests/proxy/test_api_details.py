"""Status codes, bodies, headers and decoding quirks of the spec beyond api_test.go."""

from __future__ import annotations

import json

import httpx
import pytest

from .conftest import free_port, listening


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=5, trust_env=False) as c:
        yield c


@pytest.fixture
def made(client):
    client.create_proxy("p", upstream="127.0.0.1:9")
    return "p"


def assert_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text.endswith("}\n")
    assert response.json() == {"error": message, "status": status}


def test_unmatched_path_is_plain_404_without_request_id(http, client):
    for path in ("/nope", "/proxies/", "/proxies/p/toxics/"):
        response = http.get(path)
        assert response.status_code == 404
        assert response.text == "404 page not found\n"
        assert "x-toxiproxy-request-id" not in response.headers


def test_wrong_method_is_empty_405(http, client):
    for method, path in (("PUT", "/proxies"), ("GET", "/reset"), ("DELETE", "/version")):
        response = http.request(method, path)
        assert response.status_code == 405
        assert response.content == b""


def test_proxy_json_shape_and_sorted_index(http, client):
    client.create_proxy("b", upstream="127.0.0.1:9")
    client.create_proxy("a", upstream="127.0.0.1:9")
    body = http.get("/proxies").text
    index = json.loads(body)
    assert list(index) == ["a", "b"]
    assert list(index["a"]) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    assert index["a"]["Logger"] == {} and index["a"]["toxics"] == []
    assert " " not in body and not body.endswith("\n")


def test_error_bodies(http, made):
    assert_error(http.get("/proxies/missing"), 404, "proxy not found")
    assert_error(http.get("/proxies/p/toxics/missing"), 404, "toxic not found")
    assert_error(http.post("/proxies", content=b""), 400, "bad request body: EOF")
    assert_error(http.post("/proxies/missing/toxics", content=b"garbage"), 404, "proxy not found")
    assert_error(http.post("/proxies/p/toxics", json={"type": "cheese"}), 400, "invalid toxic type")
    assert_error(
        http.post("/proxies/p/toxics", json={"type": "latency", "stream": ""}),
        400,
        "stream was invalid, can be either upstream or downstream",
    )


def test_keys_match_case_insensitively_and_unknown_keys_are_ignored(http, made):
    response = http.post(
        "/proxies/p/toxics",
        json={"Type": "bandwidth", "Name": "bw", "Attributes": {"Rate": 100}, "whatever": 1},
    )
    assert response.status_code == 200
    assert response.json()["attributes"] == {"rate": 100}


def test_only_the_first_json_value_is_read(http, made):
    response = http.post("/proxies/p/toxics", content=b'{"type":"noop"} {"bad":')
    assert response.status_code == 200


@pytest.mark.parametrize("value", [100.0, "100", True])
def test_integer_attributes_reject_other_types(http, made, value):
    response = http.post(
        "/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": value}}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("bad request body: ")


@pytest.mark.parametrize(
    "toxic_type, attributes",
    [
        ("latency", {"latency": -1}),
        ("bandwidth", {"rate": -5}),
        ("slicer", {}),
        ("slicer", {"average_size": 10, "size_variation": 10}),
        ("limit_data", {"bytes": -1}),
    ],
)
def test_attributes_that_would_crash_toxiproxy_are_400(http, made, toxic_type, attributes):
    response = http.post("/proxies/p/toxics", json={"type": toxic_type, "attributes": attributes})
    assert response.status_code == 400
    assert response.json()["error"].startswith("invalid attribute")
    assert http.get("/proxies/p/toxics").json() == []


def test_bandwidth_rate_zero_is_accepted(http, made):
    response = http.post("/proxies/p/toxics", json={"type": "bandwidth", "attributes": {"rate": 0}})
    assert response.status_code == 200


def test_stream_kept_as_sent_and_used_in_default_name(http, made):
    response = http.post("/proxies/p/toxics", json={"type": "latency", "stream": "UpStream"})
    assert response.json()["name"] == "latency_UpStream"
    assert response.json()["stream"] == "UpStream"
    http.post("/proxies/p/toxics", json={"type": "noop"})
    names = [t["name"] for t in http.get("/proxies/p/toxics").json()]
    assert names == ["latency_UpStream", "noop_downstream"]


def test_toxics_listed_upstream_first(http, made):
    http.post("/proxies/p/toxics", json={"type": "noop", "name": "d1"})
    http.post("/proxies/p/toxics", json={"type": "noop", "name": "u1", "stream": "upstream"})
    http.post("/proxies/p/toxics", json={"type": "noop", "name": "d2"})
    assert [t["name"] for t in http.get("/proxies/p/toxics").json()] == ["u1", "d1", "d2"]


def test_ttl_ms_only_in_json_when_set(http, made):
    plain = http.post("/proxies/p/toxics", json={"type": "noop", "name": "plain"}).json()
    assert "ttl_ms" not in plain
    timed = http.post(
        "/proxies/p/toxics", json={"type": "noop", "name": "timed", "ttl_ms": 60000}
    ).json()
    assert timed["ttl_ms"] == 60000
    bad = http.post("/proxies/p/toxics", json={"type": "noop", "name": "bad", "ttl_ms": 0})
    assert bad.status_code == 400


def test_patch_and_post_update_proxy_partially(http, client):
    client.create_proxy("p", upstream="127.0.0.1:9")
    first = client.get_proxy("p")
    moved = http.patch("/proxies/p", json={"listen": "127.0.0.1:0"}).json()
    assert moved["listen"] != first.listen and moved["upstream"] == "127.0.0.1:9"
    port = int(moved["listen"].rsplit(":", 1)[1])
    assert listening(port)
    updated = http.post("/proxies/p", json={"upstream": "127.0.0.1:10", "name": "ignored"})
    assert updated.json()["name"] == "p" and updated.json()["upstream"] == "127.0.0.1:10"
    assert updated.json()["listen"] == moved["listen"]


def test_update_with_same_listen_by_hostname_keeps_connections(client, echo, connect):
    port = free_port()
    client.create_proxy("p", upstream=echo.address, listen=f"127.0.0.1:{port}")
    sock = connect(port)
    sock.sendall(b"a")
    assert sock.recv(1) == b"a"
    client.update_proxy("p", listen=f"localhost:{port}")
    sock.sendall(b"b")
    assert sock.recv(1) == b"b"


def test_update_toxic_accepts_patch_and_post(http, made):
    http.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 5}})
    patched = http.patch("/proxies/p/toxics/latency_downstream", json={"toxicity": 0.25})
    assert patched.json()["toxicity"] == 0.25
    posted = http.post(
        "/proxies/p/toxics/latency_downstream", json={"attributes": {"jitter": 2}, "name": "x"}
    )
    assert posted.json()["name"] == "latency_downstream"
    assert posted.json()["attributes"] == {"latency": 5, "jitter": 2}


def test_populate_rejects_non_array_with_proxies_null(http, client):
    response = http.post("/populate", json={"name": "x"})
    assert response.status_code == 400
    assert response.json()["proxies"] is None
    assert response.json()["error"].startswith("bad request body: ")


def test_missing_listen_defaults_to_loopback(http, client):
    response = http.post("/proxies", json={"name": "p", "upstream": "127.0.0.1:9"})
    assert response.json()["listen"].startswith("127.0.0.1:")


def test_metrics_endpoint_serves_prometheus_text(http, client):
    response = http.request("DELETE", "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE toxiproxy_proxy_received_bytes_total counter" in response.text
    assert "# TYPE toxiproxy_proxy_sent_bytes_total counter" in response.text
