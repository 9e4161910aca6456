"""Fault proxy benchmark (run by hand): ``.venv/bin/python benchmarks/proxy.py [--quick]``.

Everything runs on loopback in separate processes: the upstream servers, the fault proxy
(``serve_forever`` on uvloop) and the measuring client (this process). Direct and proxied
blocks alternate in one run so that machine noise hits both alike. Measured:

1. added µs per keep-alive HTTP request (small body and 64 KiB body), no toxics;
2. bulk throughput through the proxy as a fraction of direct loopback, no toxics;
3. latency-toxic accuracy at 100 ms on 1 connection and on 200 concurrent ones;
4. bandwidth-toxic accuracy at several rates;
5. time from an API call to its effect on a busy connection (add and remove).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.proxy import ToxiproxyClient  # noqa: E402

SMALL_BODY = b"hello world"
BIG_BODY = bytes(i % 251 for i in range(64 * 1024))


# -- upstream servers (each in its own process) ----------------------------------------


def _http_server(ready: mp.Queue, body: bytes) -> None:
    import uvloop

    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )

    class Http(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.buf = b""

        def data_received(self, data):
            self.buf += data
            while b"\r\n\r\n" in self.buf:
                _, self.buf = self.buf.split(b"\r\n\r\n", 1)
                self.transport.write(response)

    async def main():
        server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0)
        ready.put(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    uvloop.run(main())


def _echo_server(ready: mp.Queue) -> None:
    import uvloop

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    async def main():
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0, backlog=1024)
        ready.put(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    uvloop.run(main())


def _source_server(ready: mp.Queue) -> None:
    """Streams bytes to every client until it disconnects."""
    block = b"x" * (1024 * 1024)
    sock = socket.create_server(("127.0.0.1", 0))
    ready.put(sock.getsockname()[1])

    def stream(conn: socket.socket) -> None:
        try:
            while True:
                conn.sendall(block)
        except OSError:
            conn.close()

    while True:
        conn, _ = sock.accept()
        threading.Thread(target=stream, args=(conn,), daemon=True).start()


def _proxy_server(ready: mp.Queue) -> None:
    from chaos.proxy import serve_forever

    serve_forever(port=0, on_ready=ready.put)


def spawn(target: Callable, *args) -> tuple[mp.Process, object]:
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    proc = ctx.Process(target=target, args=(ready, *args), daemon=True)
    proc.start()
    return proc, ready.get(timeout=30)


# -- measurements ------------------------------------------------------------------------


class HttpClient:
    """Keep-alive HTTP/1.1 GETs on one blocking socket (the minimum a Python client does)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(256 * 1024)
        self.view = memoryview(self.buf)

    def get(self) -> int:
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
        got = self.sock.recv_into(self.view)
        head_end = self.buf.find(b"\r\n\r\n", 0, got)
        while head_end < 0:
            got += self.sock.recv_into(self.view[got:])
            head_end = self.buf.find(b"\r\n\r\n", 0, got)
        start = self.buf.find(b"Content-Length: ", 0, head_end) + 16
        length = int(self.buf[start : self.buf.find(b"\r\n", start)])
        total = head_end + 4 + length
        while got < total:
            got += self.sock.recv_into(self.view[got:])
        return length

    def close(self) -> None:
        self.sock.close()


def added_request_cost(
    client: ToxiproxyClient, upstream_port: int, name: str, blocks: int, per_block: int
) -> dict:
    proxy = client.create_proxy(name, upstream=f"127.0.0.1:{upstream_port}")
    direct, proxied = HttpClient(upstream_port), HttpClient(proxy.listen_port)
    for c in (direct, proxied):
        for _ in range(200):
            c.get()
    means: dict[str, list[float]] = {"direct": [], "proxied": []}
    for _ in range(blocks):
        for label, c in (("direct", direct), ("proxied", proxied)):
            started = time.perf_counter()
            for _ in range(per_block):
                c.get()
            means[label].append((time.perf_counter() - started) / per_block * 1e6)
    direct.close()
    proxied.close()
    client.delete_proxy(name)
    diffs = [p - d for p, d in zip(means["proxied"], means["direct"], strict=True)]
    return {
        "direct_us": statistics.median(means["direct"]),
        "proxied_us": statistics.median(means["proxied"]),
        "added_us": statistics.median(diffs),
        "added_us_min_block": min(diffs),
    }


def read_bytes(port: int, total: int, first: list[float] | None = None) -> float:
    """Seconds from connect to having read ``total`` bytes from a source via ``port``.

    ``first`` (if given) receives the bytes of the first read and its time after connect,
    then the bytes actually read (the last read may bring more than ``total``).
    """
    buf = bytearray(1024 * 1024)
    view = memoryview(buf)
    sock = socket.create_connection(("127.0.0.1", port))
    started = time.perf_counter()
    got = 0
    while got < total:
        n = sock.recv_into(view)
        if not n:
            raise RuntimeError("stream ended early")
        if got == 0 and first is not None:
            first.extend((n, time.perf_counter() - started))
        got += n
    elapsed = time.perf_counter() - started
    if first is not None:
        first.append(got)
    sock.close()
    return elapsed


def bulk_throughput(client: ToxiproxyClient, source_port: int, blocks: int, size: int) -> dict:
    proxy = client.create_proxy("bulk", upstream=f"127.0.0.1:{source_port}")
    rates: dict[str, list[float]] = {"direct": [], "proxied": []}
    read_bytes(source_port, size // 4)
    read_bytes(proxy.listen_port, size // 4)
    for _ in range(blocks):
        for label, port in (("direct", source_port), ("proxied", proxy.listen_port)):
            rates[label].append(size / read_bytes(port, size) / 1e6)
    client.delete_proxy("bulk")
    ratios = [p / d for p, d in zip(rates["proxied"], rates["direct"], strict=True)]
    return {
        "direct_MBps": statistics.median(rates["direct"]),
        "proxied_MBps": statistics.median(rates["proxied"]),
        "ratio": statistics.median(ratios),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _ping_rtts_ms(port: int, conns: int, pings: int) -> list[float]:
    """Round trips of 64-byte pings; connections start staggered over 100 ms."""
    import uvloop

    rtts: list[float] = []

    async def one(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.1 * i / conns)
        for _ in range(pings):
            started = time.perf_counter()
            writer.write(b"p" * 64)
            await reader.readexactly(64)
            rtts.append((time.perf_counter() - started) * 1000)
        writer.close()

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(conns)))

    uvloop.run(main())
    return rtts


def latency_accuracy(client: ToxiproxyClient, echo_port: int, conns: int, pings: int) -> dict:
    """RTT minus 100 ms with a 100 ms downstream latency toxic (after a 2-ping warm-up
    round); the same run without the toxic shows what the client and machine add."""
    proxy = client.create_proxy("lat", upstream=f"127.0.0.1:{echo_port}")
    baseline = _ping_rtts_ms(proxy.listen_port, conns, pings)
    client.add_toxic("lat", "latency", attributes={"latency": 100})
    _ping_rtts_ms(proxy.listen_port, conns, 2)  # warm-up, not counted
    errors_ms = [rtt - 100 for rtt in _ping_rtts_ms(proxy.listen_port, conns, pings)]
    client.delete_proxy("lat")
    return {
        "connections": conns,
        "samples": len(errors_ms),
        "p50_error_ms": statistics.median(errors_ms),
        "p99_error_ms": percentile(errors_ms, 99),
        "max_error_ms": max(errors_ms),
        "min_error_ms": min(errors_ms),
        "no_toxic_p50_rtt_ms": statistics.median(baseline),
        "no_toxic_p99_rtt_ms": percentile(baseline, 99),
    }


def bandwidth_accuracy(
    client: ToxiproxyClient, source_port: int, rate: int, seconds: float
) -> dict:
    proxy = client.create_proxy("bw", upstream=f"127.0.0.1:{source_port}")
    client.add_toxic("bw", "bandwidth", attributes={"rate": rate})
    total = int(rate * 1000 * seconds)
    first: list[float] = []
    elapsed = read_bytes(proxy.listen_port, total, first)
    client.delete_proxy("bw")
    got = first[2]
    measured = got / elapsed / 1000
    # From the first read on, i.e. without connect, dial and the source's start-up.
    steady = (got - first[0]) / (elapsed - first[1]) / 1000
    return {
        "rate_KBps": rate,
        "measured_KBps": measured,
        "error_pct": (measured / rate - 1) * 100,
        "steady_error_pct": (steady / rate - 1) * 100,
    }


def _pinger(ready: mp.Queue, port: int, seconds: float, out: mp.Queue) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    ready.put(True)
    end = time.time() + seconds
    payload = b"q" * 512
    while time.time() < end:
        sent = time.time()
        sock.sendall(payload)
        got = 0
        while got < len(payload):
            got += len(sock.recv(4096))
        samples.append((sent, time.time()))
    sock.close()
    out.put(samples)


def time_to_effect(client: ToxiproxyClient, echo_port: int, rounds: int) -> dict:
    proxy = client.create_proxy("effect", upstream=f"127.0.0.1:{echo_port}")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    ready = ctx.Queue()
    seconds = 1.0 + rounds * 0.6
    proc = ctx.Process(target=_pinger, args=(ready, proxy.listen_port, seconds, out))
    proc.start()
    ready.get(timeout=30)
    time.sleep(0.5)
    adds, removes, api_ms = [], [], []
    for _ in range(rounds):
        t0 = time.time()
        client.add_toxic("effect", "latency", name="l", attributes={"latency": 50})
        api_ms.append((time.time() - t0) * 1000)
        adds.append(t0)
        time.sleep(0.25)
        t0 = time.time()
        client.remove_toxic("effect", "l")
        api_ms.append((time.time() - t0) * 1000)
        removes.append(t0)
        time.sleep(0.25)
    samples = out.get(timeout=60)
    proc.join(10)
    client.delete_proxy("effect")
    base = statistics.median(r - s for s, r in samples if r - s < 0.025)
    add_ms, remove_ms = [], []
    for t0 in adds:
        delayed = next(s for s, r in samples if r - s > 0.025 and r > t0)
        add_ms.append(max(0.0, delayed + base - t0) * 1000)
    for t0 in removes:
        first = next(r for s, r in samples if r > t0)
        remove_ms.append((first - t0) * 1000)
    return {
        "rounds": rounds,
        "base_rtt_us": base * 1e6,
        "add_ms_median": statistics.median(add_ms),
        "add_ms_max": max(add_ms),
        "remove_ms_median": statistics.median(remove_ms),
        "remove_ms_max": max(remove_ms),
        "api_call_ms_median": statistics.median(api_ms),
        "api_call_ms_max": max(api_ms),
    }


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import uvloop

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "uvloop": uvloop.__version__,
        "kernel": platform.release(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer blocks (smoke run)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    blocks = max(3, int(20 * scale))

    results: dict = {"machine": machine()}
    procs = []
    try:
        # Every process starts before the first measurement, so that no start-up work
        # lands inside a timed block.
        proc, proxy_url = spawn(_proxy_server)
        procs.append(proc)
        ports = {}
        for label, target, extra in (
            ("small", _http_server, (SMALL_BODY,)),
            ("64KiB", _http_server, (BIG_BODY,)),
            ("source", _source_server, ()),
            ("echo", _echo_server, ()),
        ):
            proc, ports[label] = spawn(target, *extra)
            procs.append(proc)
        time.sleep(2)
        client = ToxiproxyClient(str(proxy_url), timeout=10)
        for label in ("small", "64KiB"):
            results[f"http_{label}"] = added_request_cost(
                client, ports[label], f"http_{label}", blocks, 500 if label == "small" else 200
            )
            print(label, results[f"http_{label}"], flush=True)
        results["bulk"] = bulk_throughput(
            client, ports["source"], max(3, int(8 * scale)), 512 * 1024 * 1024
        )
        print("bulk", results["bulk"], flush=True)
        results["latency_1"] = latency_accuracy(client, ports["echo"], 1, int(200 * scale) + 20)
        print("latency_1", results["latency_1"], flush=True)
        results["latency_200"] = latency_accuracy(
            client, ports["echo"], 200, max(3, int(10 * scale))
        )
        print("latency_200", results["latency_200"], flush=True)
        results["bandwidth"] = [
            bandwidth_accuracy(client, ports["source"], rate, 2.0 if not args.quick else 1.0)
            for rate in (100, 1000, 10_000, 100_000)
        ]
        print("bandwidth", results["bandwidth"], flush=True)
        results["effect"] = time_to_effect(client, ports["echo"], max(5, int(20 * scale)))
        print("effect", results["effect"], flush=True)
        client.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(5)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
