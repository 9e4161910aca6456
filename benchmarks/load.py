"""How many requests/s the load generator sustains here, and what it costs in CPU.

Run by hand: `.venv/bin/python benchmarks/load.py [--seconds 10] [--users 20] [--shop]`.

Target: a trivial keep-alive HTTP server (asyncio, fixed 2-byte answer) in its own
process, so the generator is the bottleneck; with `--shop`, also the bundled mesh's
gateway (`chaos.targets.launcher.start_mesh`). For each setup it reports requests/s (from the
raw samples), the CPU the Locust processes used (cores, and µs per request) and the CPU
of the runner's own thread in the parent (tailing samples, writing the stream). A plain
`locust` run without our sample recorder gives the recorder's overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from chaos.load import LoadRunner, LoadSpec

TRIVIAL_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    RESPONSE = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nContent-Type: text/plain\\r\\n\\r\\nok"
    class Http(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""
        def data_received(self, data):
            self.buffer += data
            while b"\\r\\n\\r\\n" in self.buffer:
                _, self.buffer = self.buffer.split(b"\\r\\n\\r\\n", 1)
                self.transport.write(RESPONSE)
    async def main():
        server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()
    asyncio.run(main())
    """
)

LOCUSTFILE = textwrap.dedent(
    """
    from locust import FastHttpUser, HttpUser, task

    class Fast(FastHttpUser):
        @task
        def get(self):
            self.client.get("/")

    class Requests(HttpUser):
        @task
        def get(self):
            self.client.get("/")
    """
)


class CpuSampler:
    """Keeps the last CPU times seen of a set of processes (they vanish at the end)."""

    def __init__(self) -> None:
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def watch(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            for pid in self._pids():
                try:
                    times = psutil.Process(pid).cpu_times()
                    self.last[pid] = times.user + times.system
                except psutil.NoSuchProcess:
                    pass

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return sum(self.last.values())


def cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_ours(
    host: str,
    user_class: str | None,
    locustfile: Path | None,
    workers: int,
    users: int,
    seconds: float,
    out: Path,
) -> dict:
    spec = LoadSpec(
        host=host,
        users=users,
        spawn_rate=max(users, 1) * 5,
        duration_s=seconds,
        locustfile=locustfile,
        user_classes=[user_class] if user_class else [],
        workers=workers,
        output_dir=out,
        env={"GAMEDAY_ACK_FILE": str(out / "acks.jsonl"), "GAMEDAY_SHOP_THINK_S": "0,0"},
    )
    sampler = CpuSampler()
    runner = LoadRunner(spec)
    parent_cpu_before = cpu_s(resource.RUSAGE_SELF)
    with runner:
        sampler.watch(lambda: list(runner.pids.values()))
        runner.wait_ready(timeout=60)
        runner.wait(timeout=seconds + 60)
    locust_cpu = sampler.stop()
    parent_cpu = cpu_s(resource.RUSAGE_SELF) - parent_cpu_before
    summary = runner.summary
    duration = summary.duration_s
    return {
        "requests": summary.total.requests,
        "rps": summary.total.requests / duration,
        "failures": summary.total.failures,
        "p50_ms": summary.total.p50,
        "p99_ms": summary.total.p99,
        "locust_cores": locust_cpu / duration,
        "locust_us_per_request": 1e6 * locust_cpu / max(1, summary.total.requests),
        "parent_cores": parent_cpu / duration,
        "late_samples": summary.late_samples,
    }


def run_plain_locust(
    host: str, user_class: str, locustfile: Path, users: int, seconds: float
) -> dict:
    """Locust's own CLI without our recorder: the baseline for the recorder's overhead."""
    started = time.monotonic()
    children_cpu_before = cpu_s(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "--json",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(users * 5),
            "-t",
            f"{int(seconds)}s",
            "-H",
            host,
            user_class,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    wall = time.monotonic() - started
    stats = json.loads(proc.stdout)
    requests = sum(s["num_requests"] for s in stats)
    duration = max(s["last_request_timestamp"] for s in stats) - min(s["start_time"] for s in stats)
    locust_cpu = cpu_s(resource.RUSAGE_CHILDREN) - children_cpu_before
    return {
        "requests": requests,
        "rps": requests / duration,
        "locust_cores": locust_cpu / wall,
        "locust_us_per_request": 1e6 * locust_cpu / max(1, requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--shop", action="store_true", help="also load the bundled mesh")
    args = parser.parse_args()

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    server = subprocess.Popen(
        [sys.executable, "-c", TRIVIAL_SERVER], stdout=subprocess.PIPE, text=True
    )
    results: list[tuple[str, dict]] = []
    try:
        host = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as tmp:
            locustfile = Path(tmp) / "trivial.py"
            locustfile.write_text(LOCUSTFILE)
            for user_class in ("Fast", "Requests"):
                results.append(
                    (
                        f"plain locust, {user_class}",
                        run_plain_locust(host, user_class, locustfile, args.users, args.seconds),
                    )
                )
                for workers in (0, 2):
                    name = f"gameday, {user_class}, workers={workers}"
                    out = Path(tmp) / name.replace(", ", "-").replace("=", "")
                    results.append(
                        (
                            name,
                            run_ours(
                                host, user_class, locustfile, workers, args.users, args.seconds, out
                            ),
                        )
                    )
                    print(name, json.dumps(results[-1][1]), flush=True)
            if args.shop:
                from chaos.targets.launcher import start_mesh

                with start_mesh(state_dir=Path(tmp) / "mesh") as mesh:
                    for workers in (0, 2):
                        name = f"gameday, shop locustfile, workers={workers}"
                        results.append(
                            (
                                name,
                                run_ours(
                                    mesh.state.gateway_url,
                                    None,
                                    None,
                                    workers,
                                    args.users,
                                    args.seconds,
                                    Path(tmp) / f"shop{workers}",
                                ),
                            )
                        )
                        print(name, json.dumps(results[-1][1]), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print()
    for name, result in results:
        print(
            f"{name:40s} "
            + " ".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
            )
        )


if __name__ == "__main__":
    main()
