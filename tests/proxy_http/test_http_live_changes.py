"""Property: HTTP toxics coming and going on live keep-alive connections never corrupt,
lose or reorder a byte of any request they do not fault.

Hypothesis draws mixes of requests (methods, paths, Content-Length and chunked bodies,
pipelined bursts) on several client connections, interleaved with adding and removing
HTTP toxics (between bursts and while a burst is in flight) and reconnecting clients;
every response is checked against the real upstream's digest of what it received.
Examples are derandomised, so every run draws the same ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.proxy import EmbeddedProxyServer, NotFound, ToxiproxyClient

from .wire import Response, read_responses

CLIENTS = 3
PATHS = ["/a", "/x", "/x/deep", "/chunked/b", "/y"]
TOXICS = {
    # name: (type, stream, attributes)
    "abort": ("http_abort", "downstream", {"path": "/x*", "http_status": 503}),
    "hold_request": ("http_delay", "upstream", {"path": "/y", "latency": 5}),
    "hold_response": ("http_delay", "downstream", {"method": "POST", "latency": 5}),
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    chunked: bool

    def wire(self, request_id: str) -> bytes:
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: t\r\nX-Request-Id: {request_id}\r\n"
        if self.chunked:
            third = max(len(self.body) // 3, 1)
            pieces = [self.body[i : i + third] for i in range(0, len(self.body), third)]
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
            return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
        if self.method == "GET" and not self.body:
            return (head + "\r\n").encode()
        return (head + f"Content-Length: {len(self.body)}\r\n\r\n").encode() + self.body


requests = st.builds(
    Request,
    method=st.sampled_from(["GET", "POST", "PUT"]),
    path=st.sampled_from(PATHS),
    body=st.binary(max_size=3000) | st.just(b"z" * 70_000),
    chunked=st.booleans(),
)
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("send"),
            st.integers(0, CLIENTS - 1),
            st.lists(requests, min_size=1, max_size=4),
            st.none() | st.sampled_from(sorted(TOXICS)),  # toggled while the burst is in flight
        ),
        st.tuples(st.just("add"), st.sampled_from(sorted(TOXICS))),
        st.tuples(st.just("remove"), st.sampled_from(sorted(TOXICS))),
        st.tuples(st.just("reconnect"), st.integers(0, CLIENTS - 1)),
    ),
    min_size=5,
    max_size=30,
)


@contextlib.contextmanager
def _proxy(server: EmbeddedProxyServer, upstream: str) -> Iterator[tuple[ToxiproxyClient, int]]:
    client = ToxiproxyClient(server.url, timeout=5.0)
    try:
        info = client.create_proxy("live", upstream=upstream, listen="127.0.0.1:0")
        try:
            yield client, info.listen_port
        finally:
            client.delete_proxy("live")
    finally:
        client.close()


def _check(response: Response, request: Request, request_id: str, aborted: bool) -> None:
    if aborted:
        assert response.status == 503, (request, response)
        assert response.headers.get("x-toxiproxy-toxic") == "abort"
        return
    assert response.status == 200, (request, response)
    assert json.loads(response.body) == {
        "method": request.method,
        "path": request.path,
        "id": request_id,
        "length": len(request.body),
        "sha256": hashlib.sha256(request.body).hexdigest(),
    }


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_live_toxic_changes_never_touch_the_bytes_of_other_requests(
    proxy_server: EmbeddedProxyServer, upstream: str, plan: list[tuple]
) -> None:
    with _proxy(proxy_server, upstream) as (client, port), contextlib.ExitStack() as stack:

        def connect() -> socket.socket:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            stack.callback(sock.close)
            return sock

        conns = [connect() for _ in range(CLIENTS)]
        present: set[str] = set()
        sent = 0

        def toggle(name: str) -> None:
            if name in present:
                client.remove_toxic("live", name)
                present.discard(name)
            else:
                toxic_type, stream, attributes = TOXICS[name]
                client.add_toxic(
                    "live", toxic_type, name=name, stream=stream, attributes=attributes
                )
                present.add(name)

        for step in plan:
            if step[0] in ("add", "remove") and (step[1] in present) == (step[0] == "remove"):
                toggle(step[1])
            elif step[0] == "reconnect":
                conns[step[1]].close()
                conns[step[1]] = connect()
            elif step[0] == "send":
                _, index, burst, in_flight = step
                ids = [str(sent + i) for i in range(len(burst))]
                sent += len(burst)
                aborting = "abort" in present
                # A burst is pipelined: every request written before any response is read.
                conns[index].sendall(b"".join(r.wire(i) for r, i in zip(burst, ids, strict=True)))
                if in_flight is not None:
                    toggle(in_flight)
                responses = read_responses(conns[index], [r.method for r in burst])
                for request, request_id, response in zip(burst, ids, responses, strict=True):
                    if ("abort" in present) != aborting and request.path.startswith("/x"):
                        # The abort came or went while this request was in flight: either
                        # outcome is right, but never a response that is not its own.
                        aborted = response.headers.get("x-toxiproxy-toxic") == "abort"
                    else:
                        aborted = aborting and request.path.startswith("/x")
                    _check(response, request, request_id, aborted)
        for name in present:
            with contextlib.suppress(NotFound):
                client.remove_toxic("live", name)
