"""Toxics on real loopback connections through the embedded server."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

import pytest

from chaos.proxy.connection import Connection

from .conftest import recv_exactly


def echo_time(sock: socket.socket, payload: bytes) -> float:
    started = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - started


@pytest.fixture
def proxy(client, echo):
    return client.create_proxy("echo", upstream=echo.address)


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
def test_latency_delays_each_direction(client, proxy, connect, stream):
    sock = connect(proxy.listen_port)
    assert echo_time(sock, b"warm") < 0.5
    client.add_toxic("echo", "latency", stream=stream, attributes={"latency": 150})
    assert 0.15 <= echo_time(sock, b"x" * 32 * 1024) < 1.5


def test_latency_jitter_stays_within_bounds(client, proxy, connect):
    client.add_toxic("echo", "latency", attributes={"latency": 100, "jitter": 50})
    sock = connect(proxy.listen_port)
    times = [echo_time(sock, b"ping") for _ in range(5)]
    assert all(0.05 <= t < 1.5 for t in times), times


def test_two_latency_toxics_add_up(client, proxy, connect):
    client.add_toxic("echo", "latency", name="a", stream="upstream", attributes={"latency": 200})
    client.add_toxic("echo", "latency", name="b", stream="upstream", attributes={"latency": 200})
    sock = connect(proxy.listen_port)
    assert 0.4 <= echo_time(sock, b"x") < 2.0


def test_bandwidth_limits_rate_and_keeps_bytes(client, proxy, connect):
    client.add_toxic("echo", "bandwidth", attributes={"rate": 500})  # 500 KB/s
    sock = connect(proxy.listen_port)
    payload = bytes(i % 256 for i in range(150_000))
    # 150 kB at 500 kB/s is 300 ms.
    assert 0.27 <= echo_time(sock, payload) < 3.0


def test_limit_data_closes_after_the_limit(client, proxy, connect):
    client.add_toxic("echo", "limit_data", attributes={"bytes": 10})
    sock = connect(proxy.listen_port)
    sock.sendall(b"0123456789abcdefghij")
    assert recv_exactly(sock, 20) == b"0123456789"


def test_reset_peer_gives_econnreset_then_eof(client, proxy, connect):
    client.add_toxic("echo", "reset_peer", stream="upstream", attributes={"timeout": 100})
    sock = connect(proxy.listen_port)
    started = time.monotonic()
    sock.sendall(b"hello")
    with pytest.raises(ConnectionResetError):
        sock.recv(100)
    assert time.monotonic() - started >= 0.09
    assert sock.recv(100) == b""


def test_reset_peer_with_toxicity_zero_still_resets_on_close(client, echo, connect):
    # Toxiproxy's linger rule (#603): any reset_peer at accept time turns closes into RSTs.
    proxy = client.create_proxy("echo", upstream=echo.address)
    client.add_toxic("echo", "reset_peer", toxicity=0.0)
    client.add_toxic("echo", "limit_data", attributes={"bytes": 3})
    sock = connect(proxy.listen_port)
    sock.sendall(b"abcdef")
    with pytest.raises(ConnectionResetError):
        while sock.recv(100):
            pass


def test_timeout_swallows_data_and_closes_after_timeout(client, proxy, connect):
    client.add_toxic("echo", "timeout", attributes={"timeout": 200})
    sock = connect(proxy.listen_port)
    started = time.monotonic()
    sock.sendall(b"hello")
    assert sock.recv(100) == b""
    assert 0.19 <= time.monotonic() - started < 3


def test_removing_timeout_toxic_closes_connections(client, proxy, connect, echo):
    client.add_toxic("echo", "timeout", attributes={"timeout": 0})
    sock = connect(proxy.listen_port)
    sock.sendall(b"hello")
    # The echo is back at the proxy, whose one event loop reads it before it serves the
    # API call below: it is then held by the toxic.
    echo.wait("echoed", 5)
    client.remove_toxic("echo", "timeout_downstream")
    sock.settimeout(1)
    assert sock.recv(100) == b""


def test_removing_latency_before_timeout_does_not_hang(client, proxy, connect, echo):
    client.add_toxic("echo", "latency", attributes={"latency": 10_000})
    client.add_toxic("echo", "timeout", attributes={"timeout": 0})
    sock = connect(proxy.listen_port)
    sock.sendall(b"hello")
    echo.wait("echoed", 5)  # back at the proxy: held by the latency (see above)
    started = time.monotonic()
    client.remove_toxic("echo", "latency_downstream")
    assert time.monotonic() - started < 1


def test_slow_close_delays_the_close(client, connect):
    upstream = socket.create_server(("127.0.0.1", 0))
    try:

        def serve_once() -> None:
            conn, _ = upstream.accept()
            conn.sendall(b"bye")
            conn.close()

        thread = threading.Thread(target=serve_once, daemon=True)
        thread.start()
        proxy = client.create_proxy("oneshot", upstream=f"127.0.0.1:{upstream.getsockname()[1]}")
        client.add_toxic("oneshot", "slow_close", attributes={"delay": 300})
        sock = connect(proxy.listen_port)
        assert recv_exactly(sock, 3) == b"bye"
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert time.monotonic() - started >= 0.25
        thread.join(5)
    finally:
        upstream.close()


def test_slicer_keeps_bytes_intact(client, proxy, connect):
    client.add_toxic(
        "echo", "slicer", attributes={"average_size": 100, "size_variation": 50, "delay": 10}
    )
    sock = connect(proxy.listen_port)
    payload = bytes(i % 256 for i in range(20_000))
    echo_time(sock, payload)


def test_toxics_come_and_go_under_traffic_without_loss(client, proxy, connect):
    sock = connect(proxy.listen_port)
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for i in range(20):
                if stop.is_set():
                    return
                client.add_toxic("echo", "latency", name="l", attributes={"latency": 20})
                client.add_toxic("echo", "slicer", name="s", attributes={"average_size": 64})
                client.update_toxic("echo", "l", attributes={"latency": 5})
                client.remove_toxic("echo", "l")
                client.remove_toxic("echo", "s")
                client.add_toxic("echo", "noop", name=f"n{i}", stream="upstream")
                client.remove_toxic("echo", f"n{i}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    received = bytearray()
    sent = bytearray()
    deadline = time.monotonic() + 20
    seq = 0
    while thread.is_alive() and time.monotonic() < deadline:
        block = b"".join((seq + k).to_bytes(4, "big") for k in range(256))
        seq += 256
        sock.sendall(block)
        sent += block
        received += recv_exactly(sock, len(block))
    stop.set()
    thread.join(5)
    assert not errors
    assert seq > 256
    assert received == sent


def test_api_stays_fast_while_bandwidth_stalls_traffic(client, proxy, connect, echo):
    client.add_toxic("echo", "bandwidth", attributes={"rate": 0})
    sock = connect(proxy.listen_port)
    sock.sendall(b"z" * 200_000)
    echo.wait("received", 1)  # traffic flows into the stalled downstream toxic
    started = time.monotonic()
    client.update_toxic("echo", "bandwidth_downstream", attributes={"rate": 0})
    client.remove_toxic("echo", "bandwidth_downstream")
    assert time.monotonic() - started < 1
    assert recv_exactly(sock, 200_000) == b"z" * 200_000


def test_disabling_proxy_cuts_live_connections(client, proxy, connect):
    sock = connect(proxy.listen_port)
    assert echo_time(sock, b"hi") < 1
    client.update_proxy("echo", enabled=False)
    sock.settimeout(2)
    with contextlib.suppress(ConnectionResetError):
        assert sock.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=2).close()


def test_upstream_down_closes_client(client, connect):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    proxy = client.create_proxy("dead", upstream=dead)
    sock = connect(proxy.listen_port)
    sock.settimeout(0.5)
    assert sock.recv(10) == b""


def test_toxic_ttl_removes_itself(client, proxy, connect):
    toxic = client.add_toxic("echo", "latency", attributes={"latency": 5000}, ttl_ms=300)
    assert toxic.ttl_ms == 300
    sock = connect(proxy.listen_port)
    started = time.monotonic()
    # The held chunk is released when the toxic expires, long before its 5 s latency.
    assert echo_time(sock, b"x") < 3
    assert time.monotonic() - started >= 0.25
    assert client.toxics("echo") == []


def test_toxic_ttl_rearmed_by_update(client, proxy):
    added = time.monotonic()
    client.add_toxic("echo", "noop", ttl_ms=500)
    client.update_toxic("echo", "noop_downstream", ttl_ms=60_000)
    # Outlive the first TTL by a wide margin: only the re-armed expiry keeps it.
    time.sleep(max(0.0, added + 1.5 - time.monotonic()))
    assert [t.name for t in client.toxics("echo")] == ["noop_downstream"]
    client.update_toxic("echo", "noop_downstream", ttl_ms=200)
    deadline = time.monotonic() + 5
    while client.toxics("echo") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.toxics("echo") == []


def test_metrics_count_bytes_per_link(server, client, proxy, connect):
    import httpx

    sock = connect(proxy.listen_port)
    assert echo_time(sock, b"12345") < 1
    sock.close()
    deadline = time.monotonic() + 3
    line = (
        f'toxiproxy_proxy_sent_bytes_total{{direction="downstream",listener="{proxy.listen}",'
        f'proxy="echo",upstream="{proxy.upstream}"}} 5'
    )
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(server.url + "/metrics", trust_env=False).text
        if line in text:
            break
        time.sleep(0.02)
    assert line in text
    assert line.replace("sent", "received").replace("downstream", "upstream") in text


@pytest.fixture
def slow_wiring(monkeypatch):
    """Let the loop run for 50 ms between dialling the upstream and wiring the links."""
    original = Connection._wire

    def deferred(self, up, chains):
        self.loop.call_later(0.05, original, self, up, chains)

    monkeypatch.setattr(Connection, "_wire", deferred)


@pytest.mark.parametrize("close_after", [False, True])
def test_upstream_that_speaks_first_is_read_completely(client, connect, slow_wiring, close_after):
    # Data (and EOF) the upstream sends before the links are wired must go through.
    greeting = bytes(i % 253 for i in range(2 * 1024 * 1024))
    upstream = socket.create_server(("127.0.0.1", 0))
    try:

        def serve_once() -> None:
            conn, _ = upstream.accept()
            with conn:
                conn.sendall(greeting)
                if not close_after:
                    conn.recv(1)

        thread = threading.Thread(target=serve_once, daemon=True)
        thread.start()
        proxy = client.create_proxy("talker", upstream=f"127.0.0.1:{upstream.getsockname()[1]}")
        sock = connect(proxy.listen_port)
        assert recv_exactly(sock, len(greeting)) == greeting
        if close_after:
            assert sock.recv(1) == b""
        sock.close()
        thread.join(5)
    finally:
        upstream.close()


def test_toxicity_is_drawn_per_connection(client, proxy, connect):
    client.add_toxic("echo", "latency", toxicity=0.5, attributes={"latency": 30_000})
    socks = [connect(proxy.listen_port) for _ in range(24)]
    for sock in socks:
        sock.sendall(b"t")
    # A connection without the toxic echoes at once; one with it holds the byte for 30 s,
    # far beyond this window, so a loaded machine cannot blur the two groups.
    pending = set(socks)
    deadline = time.monotonic() + 5
    while pending and time.monotonic() < deadline:
        readable, _, _ = select.select(list(pending), [], [], 0.1)
        for sock in readable:
            assert sock.recv(1) == b"t"
            pending.discard(sock)
    fast = len(socks) - len(pending)
    # All 24 on one side would happen with probability 2 * 0.5**24.
    assert 0 < fast < len(socks)
    client.remove_toxic("echo", "latency_downstream")  # releases the held bytes
    for sock in pending:
        sock.settimeout(5)
        assert sock.recv(1) == b"t"


def test_bulk_data_intact_when_the_reader_lags(proxy, connect):
    # Exercises the no-copy path: partial writes must not let a read buffer be reused.
    payload = bytes(i % 251 for i in range(8 * 1024 * 1024))
    sock = connect(proxy.listen_port)
    sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
    sender.start()
    time.sleep(0.3)
    assert recv_exactly(sock, len(payload)) == payload
    sender.join(5)


def test_bulk_data_intact_when_toxics_come_and_go_while_the_reader_lags(client, proxy, connect):
    # Switches between the reused read buffer and the toxic chain while the destination
    # still holds unsent bytes from that buffer.
    payload = bytes(i % 251 for i in range(8 * 1024 * 1024))
    sock = connect(proxy.listen_port)
    sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
    sender.start()
    received = bytearray(recv_exactly(sock, 1024 * 1024))
    for i in range(3):
        client.add_toxic("echo", "noop", name=f"n{i}", stream="upstream")
        client.add_toxic("echo", "slicer", name=f"s{i}", attributes={"average_size": 4096})
        time.sleep(0.05)
        received += recv_exactly(sock, 1024 * 1024)
        client.remove_toxic("echo", f"n{i}")
        client.remove_toxic("echo", f"s{i}")
        time.sleep(0.05)
        received += recv_exactly(sock, 256 * 1024)
    received += recv_exactly(sock, len(payload) - len(received))
    sender.join(5)
    assert received == payload


def test_latency_toxic_close_race(client, proxy):
    # Toxiproxy's LatencyToxicCloseRace: add, connect, close, remove, many times over.
    for _ in range(100):
        client.add_toxic("echo", "latency", attributes={"latency": 10})
        sock = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
        sock.sendall(b"x")
        sock.close()
        client.remove_toxic("echo", "latency_downstream")
    sock = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
    with sock:
        assert echo_time(sock, b"still fine") < 1


def test_remove_toxic_after_the_connection_broke(client, proxy, connect):
    client.add_toxic("echo", "latency", attributes={"latency": 1000})
    sock = connect(proxy.listen_port)
    sock.sendall(b"pending")
    time.sleep(0.05)
    sock.close()
    time.sleep(0.05)
    client.remove_toxic("echo", "latency_downstream")
    assert client.toxics("echo") == []
    fresh = connect(proxy.listen_port)
    assert echo_time(fresh, b"ok") < 1


def test_failing_toxic_closes_its_link_instead_of_hanging(client, proxy, connect, monkeypatch):
    from chaos.proxy import behaviours

    async def broken(stage, attrs):
        await stage.read()
        raise RuntimeError("toxic bug")

    monkeypatch.setitem(behaviours.RUNNERS, "slow_close", broken)
    client.add_toxic("echo", "slow_close", attributes={"delay": 10})
    sock = connect(proxy.listen_port)
    sock.sendall(b"x")
    sock.settimeout(3)
    assert sock.recv(10) == b""
