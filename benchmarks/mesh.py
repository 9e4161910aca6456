"""How fast the bundled shop mesh starts, and how much traffic its gateway carries.

Run by hand: `.venv/bin/python benchmarks/mesh.py [--startup-runs 3] [--seconds 20]
[--users 20,40,80] [--think 0.05,0.2]`.

1. Start-up: `start_mesh()` with the bundled topology (13 replicas), timed until every
   replica reported ready, then `stop()` timed until nothing is left. Repeated.
2. Throughput: the bundled shop locustfile (browse, product pages, carts, checkouts;
   FastHttpUser, one Locust process on the same 2 cores) against the `client->gateway`
   edge, no faults, for each user count in `--users` with `--think` seconds between a
   user's tasks. Reports requests/s and latency percentiles from the raw samples, the
   failures, the CPU the mesh used (cores), and whether the invariants hold afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import psutil

from chaos.load import LoadRunner, LoadSpec
from chaos.targets.launcher import start_mesh
from chaos.targets.shop.invariants import check_invariants


def startup(runs: int, root: Path) -> None:
    for run in range(runs):
        load = os.getloadavg()[0]
        started = time.monotonic()
        handle = start_mesh(root / f"startup{run}")
        up = time.monotonic() - started
        started = time.monotonic()
        handle.stop()
        down = time.monotonic() - started
        print(
            f"startup run {run + 1}: ready in {handle.startup_seconds:.2f} s "
            f"(call returned after {up:.2f} s), stopped in {down:.2f} s, load avg {load:.1f}",
            flush=True,
        )


def _mesh_cpu(owner: psutil.Process) -> float:
    total = 0.0
    for process in [owner, *owner.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def throughput(users: list[int], think: str, seconds: float, root: Path) -> None:
    with start_mesh(root / "throughput") as mesh:
        owner = psutil.Process()
        for count in users:
            out = root / f"load-{count}"
            spec = LoadSpec(
                host=mesh.state.gateway_url,
                users=count,
                spawn_rate=count * 2,
                duration_s=seconds,
                output_dir=out,
                env={"GAMEDAY_ACK_FILE": str(out / "acks.jsonl"), "GAMEDAY_SHOP_THINK_S": think},
            )
            load = os.getloadavg()[0]
            cpu_before = _mesh_cpu(owner)
            runner = LoadRunner(spec)
            with runner:
                runner.wait_ready(timeout=60)
                runner.wait(timeout=seconds + 60)
            cpu = _mesh_cpu(owner) - cpu_before
            summary = runner.summary
            total = summary.total
            report = check_invariants(mesh.state, out / "acks.jsonl")
            print(
                f"users={count} think={think}s: {total.rps:.0f} req/s, p50 {total.p50:.1f} ms, "
                f"p95 {total.p95:.1f} ms, p99 {total.p99:.1f} ms, failures {total.failures} "
                f"of {total.requests}, mesh CPU {cpu / summary.duration_s:.2f} cores, "
                f"invariants {'hold' if report.ok else 'VIOLATED'} "
                f"({report.acknowledged} acknowledged orders), load avg {load:.1f}",
                flush=True,
            )
            checkout = summary.endpoints.get("POST /checkout")
            if checkout is not None:
                print(
                    f"    POST /checkout: {checkout.rps:.0f} req/s, p50 {checkout.p50:.1f} ms, "
                    f"p95 {checkout.p95:.1f} ms",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--users", default="20,40,80", help="comma-separated user counts")
    parser.add_argument("--think", default="0.05,0.2", help="min,max seconds between tasks")
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        startup(args.startup_runs, root)
        if not args.skip_load:
            users = [int(n) for n in args.users.split(",")]
            throughput(users, args.think, args.seconds, root)


if __name__ == "__main__":
    main()
