"""Each HTTP toxic against a real uvicorn upstream, driven by a real HTTP client (httpx)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from chaos.proxy.proxy import Proxy
from chaos.proxy.toxics import decode_new_toxic

from .conftest import HttpProxy


def _client(proxy: HttpProxy) -> httpx.Client:
    return httpx.Client(base_url=proxy.url, timeout=10.0)


def test_abort_answers_matching_requests_and_forwards_the_others(http_proxy: HttpProxy) -> None:
    http_proxy.add(
        "http_abort",
        "abort",
        method="POST",
        path="/orders/*",
        http_status=429,
        body="slow down",
        headers={"Retry-After": "3"},
    )
    with _client(http_proxy) as http:
        aborted = http.post("/orders/17", content=b"x" * 5000)
        other_method = http.get("/orders/17")
        other_path = http.post("/cart", content=b"y")
        head = http.head("/orders/18")  # HEAD is not POST: forwarded
    assert aborted.status_code == 429
    assert aborted.text == "slow down"
    assert aborted.headers["retry-after"] == "3"
    assert aborted.headers["x-toxiproxy-toxic"] == "abort"
    assert other_method.status_code == 200 and other_method.json()["path"] == "/orders/17"
    assert other_path.json()["sha256"] != "" and other_path.json()["length"] == 1
    assert head.status_code == 200
    assert http_proxy.stats("abort") == {"requests": 4, "matched": 1, "faulted": 1, "not_http": 0}


def test_abort_matches_a_header_value_glob(http_proxy: HttpProxy) -> None:
    http_proxy.add("http_abort", "canary", header_name="X-User", header_value="test-*")
    with _client(http_proxy) as http:
        hit = http.get("/a", headers={"x-user": "test-42"})
        miss = http.get("/a", headers={"x-user": "real-42"})
        none = http.get("/a")
    assert hit.status_code == 503 and "canary" in hit.text
    assert miss.status_code == 200 and none.status_code == 200


def test_abort_of_a_head_request_sends_no_body(http_proxy: HttpProxy) -> None:
    http_proxy.add("http_abort", "abort", http_status=500)
    with _client(http_proxy) as http:
        head = http.head("/a")
        get = http.get("/a")  # the same keep-alive connection still frames correctly
    assert head.status_code == 500 and head.content == b""
    assert get.status_code == 500 and get.content.startswith(b"500 Internal Server Error")


def test_toxicity_is_drawn_per_request(http_proxy: HttpProxy) -> None:
    http_proxy.add("http_abort", "half", toxicity=0.3)
    n = 1500
    with _client(http_proxy) as http:  # one keep-alive connection: per-request, not per-connection
        statuses = [http.get("/a").status_code for _ in range(n)]
    rate = statuses.count(503) / n
    # 0.3 ± 0.05 is more than four standard deviations of a binomial with n=1500.
    assert 0.25 <= rate <= 0.35, rate
    assert set(statuses) == {200, 503}
    stats = http_proxy.stats("half")
    assert stats["matched"] == n and stats["faulted"] == statuses.count(503)


def test_first_n_fails_the_first_requests_across_connections_then_passes(
    http_proxy: HttpProxy,
) -> None:
    http_proxy.add("http_first_n", "flaky", path="/pay", count=3, http_status=502)
    statuses = []
    for _ in range(5):  # a new connection each time, as a retrying client might open
        with _client(http_proxy) as http:
            statuses.append(http.post("/pay", content=b"{}").status_code)
    with _client(http_proxy) as http:
        other = http.get("/other").status_code
    assert statuses == [502, 502, 502, 200, 200]
    assert other == 200
    assert http_proxy.stats("flaky")["faulted"] == 3


def test_delay_holds_requests_upstream_and_responses_downstream(http_proxy: HttpProxy) -> None:
    http_proxy.add("http_delay", "req", stream="upstream", path="/slow*", latency=300)
    http_proxy.add("http_delay", "resp", stream="downstream", path="/slower", latency=300)
    with _client(http_proxy) as http:
        start = time.monotonic()
        one = http.get("/slow")
        one_s = time.monotonic() - start
        start = time.monotonic()
        both = http.get("/slower")
        both_s = time.monotonic() - start
        fast = http.get("/fast")
    assert one.status_code == both.status_code == fast.status_code == 200
    assert both.json()["path"] == "/slower"
    # Never early; generous upper bounds for a loaded machine.
    assert 0.3 <= one_s < 0.3 + 2.0
    assert 0.6 <= both_s < 0.6 + 2.0
    # /fast was looked at by both toxics and held by neither.
    assert http_proxy.stats("req") == {"requests": 3, "matched": 2, "faulted": 2, "not_http": 0}
    assert http_proxy.stats("resp") == {"requests": 3, "matched": 1, "faulted": 1, "not_http": 0}


def test_reset_cuts_matching_responses_and_leaves_other_connections_alone(
    http_proxy: HttpProxy,
) -> None:
    http_proxy.add("http_reset", "cut", path="/fragile")
    with _client(http_proxy) as http:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            http.get("/fragile")
        assert http.get("/sturdy").status_code == 200  # on a fresh connection
    assert http_proxy.stats("cut")["faulted"] == 1


def test_removing_the_last_http_toxic_returns_live_connections_to_plain_forwarding(
    upstream: str,
) -> None:
    async def scenario() -> None:
        proxy = Proxy(asyncio.get_running_loop(), "web", "127.0.0.1:0", upstream)
        await proxy.start()
        try:
            port = int(proxy.listen.rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"

            async def status() -> bytes:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                return head.split(b" ", 2)[1]

            assert await status() == b"200"
            proxy.add_toxic(decode_new_toxic({"type": "http_abort", "name": "a"}, set()))
            (conn,) = proxy.connections
            assert conn.http is not None
            assert await status() == b"503"
            proxy.remove_toxic("a")
            assert conn.http is None
            assert all(link.front is None for link in conn.links.values())
            assert await status() == b"200"
            writer.close()
        finally:
            proxy.discard()

    asyncio.run(asyncio.wait_for(scenario(), 20))
