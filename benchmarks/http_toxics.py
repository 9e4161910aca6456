"""HTTP toxic benchmark (run by hand): ``.venv/bin/python benchmarks/http_toxics.py [--quick]``.

Same set-up as ``benchmarks/proxy.py`` (whose servers and client it reuses): the fault
proxy (``serve_forever`` on uvloop), a uvloop HTTP upstream answering 11 bytes, and the
measuring client, each in its own process on loopback. Measured:

1. added µs per keep-alive request through a proxy with an HTTP toxic that matches no
   request (``http_abort`` on another path) and one that matches every request
   (``http_delay`` of 0 ms), against the same proxy without toxics, in alternating blocks:
   the client's wall time and the proxy process's CPU time per request;
2. abort accuracy: the share of 10,000 requests answered by ``http_abort`` at toxicity
   0.1, 0.5 and 0.9 (one keep-alive connection; toxicity is drawn per request);
3. delay accuracy: round trip minus 100 ms with ``http_delay`` (response held 100 ms), on
   one connection and on 100 concurrent ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.proxy import (  # noqa: E402
    SMALL_BODY,
    HttpClient,
    _http_server,
    _proxy_server,
    machine,
    percentile,
    spawn,
)
from chaos.proxy import ToxiproxyClient  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def _cpu_s(proxy_pid: int) -> float:
    times = psutil.Process(proxy_pid).cpu_times()
    return times.user + times.system


def overhead(
    client: ToxiproxyClient, proxy_pid: int, upstream: int, blocks: int, per_block: int
) -> dict:
    """Median per-block µs per request for each proxy, and the HTTP toxics' extra cost:
    wall time seen by the client, and CPU time of the proxy process (less sensitive to
    other load on the machine)."""
    ports = {}
    for label in ("plain", "unmatched", "matched"):
        ports[label] = client.create_proxy(
            f"ov_{label}", upstream=f"127.0.0.1:{upstream}"
        ).listen_port
    client.add_toxic("ov_unmatched", "http_abort", name="miss", attributes={"path": "/never"})
    client.add_toxic("ov_matched", "http_delay", name="hit", attributes={"latency": 0})
    conns = {label: HttpClient(port) for label, port in ports.items()}
    for conn in conns.values():
        for _ in range(300):
            conn.get()
    means: dict[str, list[float]] = {label: [] for label in conns}
    cpu: dict[str, list[float]] = {label: [] for label in conns}
    for _ in range(blocks):
        for label, conn in conns.items():
            cpu_start = _cpu_s(proxy_pid)
            started = time.perf_counter()
            for _ in range(per_block):
                conn.get()
            means[label].append((time.perf_counter() - started) / per_block * 1e6)
            cpu[label].append((_cpu_s(proxy_pid) - cpu_start) / per_block * 1e6)
    for conn in conns.values():
        conn.close()
    for label in ports:
        client.delete_proxy(f"ov_{label}")
    plain = means["plain"]
    return {
        **{f"{label}_proxy_cpu_us": statistics.median(cpu[label]) for label in cpu},
        "plain_us": statistics.median(plain),
        **{f"{label}_us": statistics.median(means[label]) for label in ("unmatched", "matched")},
        **{
            f"{label}_added_us": statistics.median(
                [m - p for m, p in zip(means[label], plain, strict=True)]
            )
            for label in ("unmatched", "matched")
        },
    }


def abort_accuracy(client: ToxiproxyClient, upstream: int, toxicity: float, n: int) -> dict:
    port = client.create_proxy("abort", upstream=f"127.0.0.1:{upstream}").listen_port
    client.add_toxic("abort", "http_abort", name="abort", toxicity=toxicity)
    conn = HttpClient(port)
    aborted = 0
    for _ in range(n):
        # The upstream answers 11 bytes; an abort answers its own longer body.
        if conn.get() != len(SMALL_BODY):
            aborted += 1
    conn.close()
    stats = client.get_toxic("abort", "abort").stats or {}
    client.delete_proxy("abort")
    rate = aborted / n
    return {
        "toxicity": toxicity,
        "requests": n,
        "aborted": aborted,
        "rate": rate,
        "error_points": round((rate - toxicity) * 100, 2),
        "stats_faulted": stats.get("faulted"),
    }


async def _timed_gets(port: int, conns: int, per_conn: int, stagger_s: float) -> list[float]:
    rtts: list[float] = []

    async def one(i: int) -> None:
        await asyncio.sleep(stagger_s * i / conns)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(per_conn):
            started = time.perf_counter()
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            rtts.append(time.perf_counter() - started)
        writer.close()

    await asyncio.gather(*(one(i) for i in range(conns)))
    return rtts


def delay_accuracy(client: ToxiproxyClient, upstream: int, conns: int, per_conn: int) -> dict:
    port = client.create_proxy("delay", upstream=f"127.0.0.1:{upstream}").listen_port
    base = asyncio.run(_timed_gets(port, conns, 2, 0.1))
    client.add_toxic("delay", "http_delay", name="delay", attributes={"latency": 100})
    asyncio.run(_timed_gets(port, conns, 1, 0.1))  # warm-up round
    rtts = asyncio.run(_timed_gets(port, conns, per_conn, 0.1))
    client.delete_proxy("delay")
    errors = [(rtt - 0.1) * 1000 for rtt in rtts]
    return {
        "connections": conns,
        "samples": len(errors),
        "p50_error_ms": percentile(errors, 50),
        "p99_error_ms": percentile(errors, 99),
        "min_error_ms": min(errors),
        "max_error_ms": max(errors),
        "no_toxic_p99_rtt_ms": percentile([r * 1000 for r in base], 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer blocks (smoke run)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    results: dict = {"machine": machine()}
    procs = []
    try:
        proc, proxy_url = spawn(_proxy_server)
        procs.append(proc)
        proc, upstream = spawn(_http_server, SMALL_BODY)
        procs.append(proc)
        time.sleep(2)
        client = ToxiproxyClient(str(proxy_url), timeout=10)
        results["overhead"] = overhead(client, procs[0].pid, upstream, max(3, int(20 * scale)), 500)
        print("overhead", results["overhead"], flush=True)
        results["abort"] = [
            abort_accuracy(client, upstream, toxicity, 10_000 if not args.quick else 2_000)
            for toxicity in (0.1, 0.5, 0.9)
        ]
        print("abort", results["abort"], flush=True)
        results["delay_1"] = delay_accuracy(client, upstream, 1, int(200 * scale))
        print("delay_1", results["delay_1"], flush=True)
        results["delay_100"] = delay_accuracy(client, upstream, 100, max(2, int(5 * scale)))
        print("delay_100", results["delay_100"], flush=True)
        client.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(5)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
