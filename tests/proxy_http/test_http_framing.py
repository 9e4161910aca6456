"""HTTP/1.1 framing through HTTP toxics, on raw sockets: pipelining, chunked bodies,
``Expect: 100-continue``, connections that are not HTTP, and the API's checks."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import toxiproxy
from toxiproxy.api import APIConsumer

from chaos.proxy import InvalidRequest

from .conftest import HttpProxy
from .upstream import echo_serving, scripted_serving
from .wire import read_responses


@pytest.fixture
def conn(http_proxy: HttpProxy) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", http_proxy.port), timeout=10)
    try:
        yield sock
    finally:
        sock.close()


CHUNKED_POST = (
    b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nX-Request-Id: 2\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
)


def test_pipelined_requests_get_their_responses_in_order(
    http_proxy: HttpProxy, conn: socket.socket
) -> None:
    http_proxy.add("http_abort", "abort", path="/x", http_status=418)
    body = b"0123456789" * 100
    conn.sendall(
        b"GET /a HTTP/1.1\r\nHost: t\r\nX-Request-Id: 1\r\n\r\n"
        + CHUNKED_POST
        + b"GET /chunked/3 HTTP/1.1\r\nHost: t\r\nX-Request-Id: 3\r\n\r\n"
        + b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n"
        + b"POST /y HTTP/1.1\r\nHost: t\r\nX-Request-Id: 5\r\nContent-Length: %d\r\n\r\n"
        % len(body)
        + body
    )
    got = read_responses(conn, ["GET", "POST", "GET", "HEAD", "POST"])
    assert [r.status for r in got] == [200, 418, 200, 418, 200]
    first, third, fifth = (json.loads(got[i].body) for i in (0, 2, 4))
    assert (first["id"], third["id"], fifth["id"]) == ("1", "3", "5")
    assert third["path"] == "/chunked/3"
    assert fifth["length"] == len(body)
    assert got[3].body == b""  # HEAD: no body
    assert http_proxy.stats("abort")["faulted"] == 2


def test_chunked_request_body_is_forwarded_byte_for_byte(
    http_proxy: HttpProxy, conn: socket.socket
) -> None:
    http_proxy.add("http_abort", "abort", path="/never")
    conn.sendall(CHUNKED_POST.replace(b"POST /x", b"POST /z"))
    (response,) = read_responses(conn, ["POST"])
    assert response.status == 200
    assert json.loads(response.body)["length"] == len(b"hello world")


def test_expect_continue_is_relayed_for_forwarded_requests(
    http_proxy: HttpProxy, conn: socket.socket
) -> None:
    http_proxy.add("http_abort", "abort", path="/never")
    conn.sendall(b"PUT /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    interim = conn.recv(1024)
    assert interim.startswith(b"HTTP/1.1 100 ")
    conn.sendall(b"data")
    (response,) = read_responses(conn, ["PUT"])
    assert response.status == 200 and json.loads(response.body)["length"] == 4


def test_an_aborted_expect_continue_request_is_answered_at_once_and_closed(
    http_proxy: HttpProxy, conn: socket.socket
) -> None:
    http_proxy.add("http_abort", "abort", path="/e", http_status=413)
    conn.sendall(b"PUT /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    (response,) = read_responses(conn, ["PUT"])
    assert response.status == 413
    assert conn.recv(1024) == b""  # the client never sent the body: the proxy closed


def test_a_connection_that_is_not_http_passes_untouched_and_stats_say_so(
    http_proxy: HttpProxy,
) -> None:
    http_proxy.add("http_abort", "abort")
    tls_hello = bytes([0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03]) * 20
    h2_preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x12\x04\x00\x00\x00\x00\x00"
    with echo_serving() as echo:
        http_proxy.client.update_proxy(http_proxy.name, upstream=echo)
        for payload in (tls_hello, h2_preface):
            with socket.create_connection(("127.0.0.1", http_proxy.port), timeout=10) as sock:
                sock.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    data = sock.recv(65536)
                    assert data, "connection closed early"
                    got += data
                assert got == payload
    assert http_proxy.stats("abort") == {"requests": 0, "matched": 0, "faulted": 0, "not_http": 2}


def test_the_unchanged_toxiproxy_python_client_adds_and_removes_an_http_abort(
    http_proxy: HttpProxy, proxy_server, conn: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = urlsplit(proxy_server.url)
    monkeypatch.setattr(APIConsumer, "host", url.hostname)
    monkeypatch.setattr(APIConsumer, "port", url.port)
    proxy = toxiproxy.Toxiproxy().get_proxy(http_proxy.name)
    proxy.add_toxic(
        name="teapot", type="http_abort", attributes={"http_status": 418, "path": "/t*"}
    )
    assert proxy.toxics()["teapot"].attributes["http_status"] == 418
    conn.sendall(b"GET /tea HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_responses(conn, ["GET"])[0].status == 418
    proxy.destroy_toxic("teapot")
    assert proxy.toxics() == {}
    conn.sendall(b"GET /tea HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_responses(conn, ["GET"])[0].status == 200


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"http_status": 700}, "invalid attribute http_status: must be 200-599, got 700"),
        ({"headers": ["X-A: b"]}, "cannot unmarshal array into Go struct field"),
        ({"method": "GET /"}, "invalid attribute method"),
        ({"path": "/a\r\nX: y"}, "invalid attribute path: must not contain CR, LF or NUL"),
        ({"count": "3"}, "HttpFirstNToxic.count of type int64"),
    ],
)
def test_bad_attributes_are_refused_with_a_message(
    http_proxy: HttpProxy, attributes: dict, message: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        http_proxy.add("http_first_n", "bad", **attributes)
    assert message in caught.value.message
    assert http_proxy.client.toxics(http_proxy.name) == []


def _read_all(sock: socket.socket) -> bytes:
    got = b""
    while data := sock.recv(65536):
        got += data
    return got


def test_a_response_delimited_by_close_arrives_whole(http_proxy: HttpProxy) -> None:
    reply = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"until close " * 500
    http_proxy.add("http_abort", "abort", path="/never")
    with scripted_serving(b"", reply) as upstream:
        http_proxy.client.update_proxy(http_proxy.name, upstream=upstream)
        with socket.create_connection(("127.0.0.1", http_proxy.port), timeout=10) as sock:
            sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
            assert _read_all(sock) == reply
    assert http_proxy.stats("abort")["requests"] == 1


def test_a_server_that_speaks_first_is_not_http(http_proxy: HttpProxy) -> None:
    greeting = b"220 mail.example ESMTP ready\r\n"
    http_proxy.add("http_abort", "abort")
    with scripted_serving(greeting, b"250 ok\r\n") as upstream:
        http_proxy.client.update_proxy(http_proxy.name, upstream=upstream)
        with socket.create_connection(("127.0.0.1", http_proxy.port), timeout=10) as sock:
            assert sock.recv(1024) == greeting
            sock.sendall(b"EHLO client\r\n\r\n")
            assert _read_all(sock) == b"250 ok\r\n"
    assert http_proxy.stats("abort")["not_http"] == 1


def test_an_upgraded_connection_passes_raw_after_the_switch(http_proxy: HttpProxy) -> None:
    switch = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )
    frames = bytes(range(256)) * 4  # not HTTP: must pass as it is, both ways
    http_proxy.add("http_abort", "abort", path="/never")
    with scripted_serving(b"", switch, echo_after=True) as upstream:
        http_proxy.client.update_proxy(http_proxy.name, upstream=upstream)
        with socket.create_connection(("127.0.0.1", http_proxy.port), timeout=10) as sock:
            sock.sendall(
                b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
            )
            got = b""
            while len(got) < len(switch):
                got += sock.recv(65536)
            assert got == switch
            sock.sendall(frames)
            echoed = b""
            while len(echoed) < len(frames):
                data = sock.recv(65536)
                assert data, "closed early"
                echoed += data
            assert echoed == frames
    assert http_proxy.stats("abort")["requests"] == 1
