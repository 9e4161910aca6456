"""How long faults and the ledger take: ledger appends (one fsync each), applying and undoing
a network fault through the embedded proxy, pausing/resuming a process, and how soon a
latency fault shows up in a request through the edge.

    .venv/bin/python benchmarks/faults.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from chaos.faults import network, process
from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient
from chaos.safety.ledger import Ledger, undo_entry


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


def summary(name: str, samples_ms: list[float]) -> None:
    ordered = sorted(samples_ms)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(
        f"{name:<44} n={len(ordered):<4} median {statistics.median(ordered):7.2f} ms"
        f"   p95 {p95:7.2f} ms   max {ordered[-1]:7.2f} ms"
    )


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def bench_ledger(folder: Path, rounds: int) -> None:
    ledger = Ledger(folder / "ledger.jsonl")
    undo = {"module": "m", "func": "f", "arguments": {"proxy": ["a->b"]}}
    summary(
        "ledger append (write + fsync)",
        [timed(lambda: ledger.record_intent("k", "t", undo)) for _ in range(rounds)],
    )
    summary("ledger outstanding() over the file", [timed(ledger.outstanding) for _ in range(20)])


def bench_network(folder: Path, rounds: int) -> None:
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    with EmbeddedProxyServer(port=0) as server:
        client = ToxiproxyClient(server.url)
        port = client.create_proxy(
            "orders->payments", upstream=f"127.0.0.1:{echo.server_address[1]}"
        ).listen_port
        cfg = {"gameday_proxy_api": server.url, "gameday_ledger": str(folder / "net.jsonl")}
        apply_ms, undo_ms, first_ms = [], [], []
        for _ in range(rounds):
            apply_ms.append(
                timed(
                    lambda: network.add_latency(
                        latency_ms=200, edge="orders->payments", configuration=cfg
                    )
                )
            )
            # How long after the call returned a new request sees the delay: it must, at once.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                started = time.perf_counter()
                sock.sendall(b"x")
                sock.recv(1)
                first_ms.append((time.perf_counter() - started) * 1000)
            undo_ms.append(
                timed(lambda: network.remove_toxics(edge="orders->payments", configuration=cfg))
            )
        summary("add_latency (resolve, intent, apply, applied)", apply_ms)
        summary("remove_toxics (remove, settle ledger)", undo_ms)
        summary("first request after add_latency(200 ms)", first_ms)
        refuse, heal = [], []
        for _ in range(max(5, rounds // 5)):
            refuse.append(
                timed(
                    lambda: network.partition(
                        mode="refuse", edge="orders->payments", configuration=cfg
                    )
                )
            )
            heal.append(
                timed(lambda: network.heal_partition(edge="orders->payments", configuration=cfg))
            )
        summary("partition(refuse) incl. starting its watchdog", refuse)
        summary("heal_partition", heal)
        client.close()
    echo.shutdown()
    echo.server_close()


def bench_process(folder: Path, rounds: int) -> None:
    sleepers = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(2)
    ]
    try:
        state = folder / "mesh.json"
        replicas = [{"index": i, "pid": p.pid, "port": 4000 + i} for i, p in enumerate(sleepers)]
        state.write_text(
            json.dumps(
                {
                    "owner_pid": os.getpid(),
                    "started_at": datetime.now(UTC).isoformat(),
                    "state_dir": str(folder),
                    "topology": "bundled",
                    "proxy_api": "http://127.0.0.1:1",
                    "gateway_url": "http://127.0.0.1:2",
                    "services": {"payments": {"address": "127.0.0.1:3", "replicas": replicas}},
                }
            )
        )
        cfg = {"gameday_mesh_state": str(state), "gameday_ledger": str(folder / "proc.jsonl")}
        ledger = Ledger(cfg["gameday_ledger"])
        pause_ms, resume_ms = [], []
        for _ in range(max(5, rounds // 5)):
            started = time.perf_counter()
            result = process.pause_replicas("payments", percent=100, configuration=cfg)
            pause_ms.append((time.perf_counter() - started) * 1000)
            entry = ledger.get(result["ledger_id"])
            started = time.perf_counter()
            undo_entry(entry, ledger)
            resume_ms.append((time.perf_counter() - started) * 1000)
        summary("pause_replicas (2 pids) incl. watchdog start", pause_ms)
        summary("resume via undo_entry", resume_ms)
    finally:
        for proc in sleepers:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_ledger(folder, args.rounds)
        bench_network(folder, args.rounds)
        bench_process(folder, args.rounds)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
