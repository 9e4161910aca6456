"""Benchmark of `gameday run` (by hand; results in benchmarks/README.md).

- overhead: wall time of `gameday run` beyond the declared durations
  - `toy`: no mesh, no load (engine + CLI start-up + chaostoolkit only)
  - `warm`: a mesh already up (`--target mesh`), with load
  - `cold`: `--target local` (the run starts and stops the mesh itself), with load
- breach: seconds from a fault's start (timeline) to the first failed hypothesis check,
  at a 1 s hypothesis frequency, for an 800 ms latency on every edge into payments.

    .venv/bin/python benchmarks/engine.py toy --repeat 3
    .venv/bin/python benchmarks/engine.py warm cold breach --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GAMEDAY = Path(sys.executable).parent / "gameday"

TOY = """\
title: benchmark toy
description: engine overhead
target: none
load: false
steady-state-hypothesis:
  title: constant
  probes:
    - {type: probe, name: one, tolerance: 1,
       provider: {type: python, module: chaos.probes.replicas, func: __name__}}
method:
  - type: action
    name: wait
    provider: {type: process, path: "true"}
    pauses: {after: 2}
"""

LOADED = """\
title: benchmark {name}
description: engine benchmark
target: {{kind: {kind}}}
load: {{users: 5, spawn_rate: 5, warmup_s: 1, baseline_s: 1, recovery_s: 1, after_s: 1}}
hypothesis_frequency_s: 1
steady-state-hypothesis:
  title: the shop answers
  probes:
    - type: probe
      name: {probe_name}
      tolerance: {tolerance}
      provider:
        type: python
        module: chaos.probes.load
        func: {probe_func}
        arguments: {probe_args}
method:
  - type: action
    name: fault
    provider:
      type: python
      module: chaos.faults.network
      func: add_latency
      arguments: {{service: payments, latency_ms: {latency}, ttl_s: 60}}
    pauses: {{after: {fault_s}}}
rollbacks:
  - type: action
    name: lift
    provider:
      type: python
      module: chaos.faults.network
      func: remove_toxics
      arguments: {{service: payments}}
"""


def _toy_experiment(workdir: Path) -> tuple[Path, float]:
    # A hypothesis probe that needs no target: json.dumps(1) == "1".
    text = TOY.replace(
        "provider: {type: python, module: chaos.probes.replicas, func: __name__}",
        "provider: {type: python, module: json, func: dumps, arguments: {obj: 1}}",
    ).replace("tolerance: 1,", 'tolerance: "1",')
    path = workdir / "toy.yaml"
    path.write_text(text)
    return path, 2.0


def _loaded_experiment(workdir: Path, kind: str, breach: bool) -> tuple[Path, float]:
    fault_s = 6 if breach else 2
    if breach:
        probe = dict(
            probe_name="p95-under-300ms",
            tolerance="{type: range, range: [0, 300]}",
            probe_func="latency_percentile",
            probe_args="{p: 95, window_s: 1}",
            latency=800,
        )
    else:
        probe = dict(
            probe_name="error-rate",
            tolerance="{type: range, range: [0, 0.5]}",
            probe_func="error_rate",
            probe_args="{window_s: 2}",
            latency=50,
        )
    path = workdir / f"{kind}-{'breach' if breach else 'overhead'}.yaml"
    path.write_text(LOADED.format(name=kind, kind=kind, fault_s=fault_s, **probe))
    declared = 1 + 1 + fault_s + 1 + 1
    return path, float(declared)


@contextmanager
def _mesh(workdir: Path) -> Iterator[Path]:
    from chaos.targets.launcher import start_mesh

    handle = start_mesh(state_dir=workdir / "mesh")
    try:
        yield Path(handle.state_file)
    finally:
        handle.stop()


def _gameday_run(
    path: Path, runs: Path, env: dict[str, str], target: str | None
) -> tuple[float, Path, int]:
    command = [str(GAMEDAY), "run", str(path), "--runs-dir", str(runs), "--no-live"]
    if target:
        command += ["--target", target]
    before = set(runs.glob("*")) if runs.exists() else set()
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    wall = time.perf_counter() - started
    run_dir = next(p for p in runs.glob("*") if p.is_dir() and p not in before)
    return wall, run_dir, completed.returncode


def _detection_s(run_dir: Path) -> float | None:
    events = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    start = next((e["ts"] for e in events if e["kind"] == "fault" and e["edge"] == "start"), None)
    failed = next(
        (
            e["ts"]
            for e in events
            if e["kind"] == "check" and e["phase"] == "method" and not e["ok"]
        ),
        None,
    )
    return None if start is None or failed is None else failed - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("modes", nargs="+", choices=["toy", "warm", "cold", "breach"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp:
        workdir = Path(tmp)
        runs = workdir / "runs"
        env = {**os.environ, "COLUMNS": "200"}
        for mode in args.modes:
            results: list[float] = []
            codes: list[int] = []
            if mode == "toy":
                path, declared = _toy_experiment(workdir)
                for _ in range(args.repeat):
                    wall, _, code = _gameday_run(path, runs, env, None)
                    results.append(wall - declared)
                    codes.append(code)
            elif mode == "cold":
                path, declared = _loaded_experiment(workdir, "local", breach=False)
                for _ in range(args.repeat):
                    wall, _, code = _gameday_run(path, runs, env, None)
                    results.append(wall - declared)
                    codes.append(code)
            else:
                with _mesh(workdir) as state_file:
                    mesh_env = {**env, "GAMEDAY_MESH_STATE": str(state_file)}
                    path, declared = _loaded_experiment(workdir, "mesh", breach=mode == "breach")
                    for _ in range(args.repeat):
                        wall, run_dir, code = _gameday_run(path, runs, mesh_env, None)
                        codes.append(code)
                        if mode == "warm":
                            results.append(wall - declared)
                        else:
                            detected = _detection_s(run_dir)
                            if detected is not None:
                                results.append(detected)
            label = "detection s" if mode == "breach" else "s beyond declared"
            shown = ", ".join(f"{r:.2f}" for r in results)
            median = statistics.median(results) if results else float("nan")
            print(f"{mode}: {label}: median {median:.2f} [{shown}] exit codes {codes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
