"""The torture suite's cases, shared by `benchmarks/torture.py` (the full suite, run by
hand) and `tests/torture/` (one case of each kind, in CI).

Every case drives real `gameday` processes against one running mesh, in its own folder
(`WORK/cases/NNN-kind/`: runs folder, experiments, default ledger as the working
directory's `.gameday/ledger.jsonl`); `torture_census.census` then counts what it left
behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml
from torture_census import CASE_DEADLINE_S, GONE, CaseResult, expect_exit, wait_for

from chaos.safety.ledger import Ledger, LedgerError
from chaos.targets.launcher import MeshHandle, start_mesh

ROOT = Path(__file__).resolve().parents[1]
GAMEDAY = Path(sys.executable).parent / "gameday"
HANG = ROOT / "benchmarks" / "torture_experiments" / "notifications-hang.yaml"
# Bundled experiments (shortened at run time) plus the torture's own process fault.
INTERRUPTED = [
    ROOT / "experiments" / f"{name}.yaml"
    for name in (
        "payments-latency",
        "payments-partition",
        "notifications-down",
        "orders-inventory-resets",
        "catalog-replica-kill",
        "recommendations-down",
        "gateway-bandwidth-squeeze",
    )
] + [HANG]
# Faults that stay applied until undone (a replica kill lapses at once).
LASTING = [p for p in INTERRUPTED if p.stem != "catalog-replica-kill"]
PHASES = [
    "warmup",
    "baseline",
    "steady_state_before",
    "method",
    "recovery",
    "steady_state_after",
    "rollbacks",
    "after",
]
# How long each phase of a shortened experiment lasts, to pick a random point inside it.
PHASE_SPAN_S = {
    "warmup": 2.0,
    "baseline": 2.0,
    "method": 2.0,
    "recovery": 1.0,
    "rollbacks": 0.8,
    "after": 1.0,
}


# -- the mesh and the experiments --------------------------------------------------------


@contextmanager
def running_mesh(work: Path) -> Iterator[MeshHandle]:
    """One mesh for every case; its state file is how the runners find it."""
    handle = start_mesh(state_dir=work / "mesh", state_file=work / "mesh" / "mesh.json")
    try:
        yield handle
    finally:
        handle.stop()


def _gameday_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Where an experiment keeps our keys (target, load, runbook): its `gameday` extension,
    else (the older form) its top level."""
    for extension in data.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == "gameday":
            return extension
    return data


def shorten(source: Path, dest: Path, pause_s: float = 2.0, ttl_s: float | None = None) -> Path:
    """A copy of `source` against the running mesh with short phases: 10 users, warm-up and
    baseline 2 s, recovery and after 1 s, every method pause `pause_s`, fault TTLs set to
    `ttl_s` when given, and a 1 s pause after each rollback."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    keys = _gameday_keys(data)
    keys["target"] = {"kind": "mesh"}
    runbooks = [source.parent / keys["runbook"], ROOT / keys["runbook"]]
    keys["runbook"] = str(next((p for p in runbooks if p.is_file()), runbooks[0]).resolve())
    # Enough checkouts in the first seconds for the checkout probes to have data.
    keys["load"].update(users=10, spawn_rate=10, warmup_s=2, baseline_s=2, recovery_s=1, after_s=1)
    for activity in data["method"]:
        pauses = activity.get("pauses") or {}
        if "after" in pauses:
            pauses["after"] = pause_s
        arguments = activity["provider"].get("arguments") or {}
        if ttl_s is not None and "ttl_s" in arguments:
            arguments["ttl_s"] = ttl_s
    for activity in data.get("rollbacks") or []:
        # The rollbacks take milliseconds: a pause after each leaves a signal time to land
        # while they run.
        activity["pauses"] = {"after": 1.0}
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dest


# -- driving gameday --------------------------------------------------------------------


class Case:
    """One case's folder and the processes it started (all reaped by `close`)."""

    def __init__(self, work: Path, index: int, kind: str, mesh_state: Path) -> None:
        self.dir = work / "cases" / f"{index:03d}-{kind}"
        self.runs = self.dir / "runs"
        self.dir.mkdir(parents=True)
        self.mesh_state = mesh_state
        self.processes: list[subprocess.Popen[str]] = []
        self.outputs: list[str] = []

    def env(self) -> dict[str, str]:
        return {**os.environ, "GAMEDAY_MESH_STATE": str(self.mesh_state), "COLUMNS": "200"}

    def start(self, *args: str, runs_dir: bool = True) -> subprocess.Popen[str]:
        log = (self.dir / f"gameday-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            [str(GAMEDAY), *args, *(["--runs-dir", str(self.runs)] if runs_dir else [])],
            cwd=self.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env(),
        )
        log.close()
        self.processes.append(process)
        return process

    def run(self, *args: str, runs_dir: bool = True, timeout: float = CASE_DEADLINE_S) -> int:
        """Run a gameday command to its end; returns its exit code."""
        process = self.start(*args, runs_dir=runs_dir)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            return -9

    def experiment(self, source: Path, **shortening: Any) -> Path:
        return shorten(source, self.dir / "experiments" / source.name, **shortening)

    def tracebacks(self) -> int:
        return sum(
            "Traceback (most recent call last)" in log.read_text(errors="replace")
            for log in self.dir.glob("gameday-*.log")
        )

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with suppress(*GONE):
                    os.kill(process.pid, signal.SIGCONT)
                process.kill()
            process.wait(timeout=30)


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.glob("*") if p.is_dir()) if runs.is_dir() else []


def timeline(run_dir: Path) -> list[dict[str, Any]]:
    try:
        lines = (run_dir / "timeline.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def current_phase(run_dir: Path) -> str | None:
    phases = [e["name"] for e in timeline(run_dir) if e.get("kind") == "phase"]
    phases = [e for e in phases if e]
    return phases[-1] if phases else None


def phase_started(run_dir: Path, phase: str) -> bool:
    return any(
        e.get("kind") == "phase" and e.get("name") == phase and e.get("edge") == "start"
        for e in timeline(run_dir)
    )


def fault_applied(run_dir: Path) -> bool:
    try:
        return any(e.status == "applied" for e in Ledger(run_dir / "ledger.jsonl").entries())
    except LedgerError:
        return False


def only_run_dir(runs: Path) -> Path | None:
    found = run_dirs(runs)
    return found[0] if found else None


# -- the cases ----------------------------------------------------------------------------


def interrupt_case(
    case: Case, source: Path, phase: str, signum: signal.Signals, rng: random.Random
) -> CaseResult:
    """Signal the runner at a random point of `phase`; it must roll back and exit 3."""
    result = CaseResult("interrupt", source.stem, f"{signum.name} in {phase}")
    runner = case.start("run", str(case.experiment(source)), "--target", "mesh", "--no-live")
    hit = wait_for(
        lambda: (
            runner.poll() is not None
            or ((d := only_run_dir(case.runs)) is not None and phase_started(d, phase))
        ),
    )
    if runner.poll() is None and hit:
        time.sleep(rng.uniform(0.0, PHASE_SPAN_S.get(phase, 0.0)))
        run_dir = only_run_dir(case.runs)
        landed = current_phase(run_dir) if run_dir else None
        runner.send_signal(signum)
        result.detail = f"{signum.name} in {landed}"
        expect_exit(result, "run", runner.wait(timeout=CASE_DEADLINE_S), 3)
    else:
        code = runner.wait(timeout=CASE_DEADLINE_S)
        result.detail = f"{signum.name}: ended (exit {code}) before {phase}"
        result.exit_codes.append(code)
    return result


def _kill_while_applied(case: Case, source: Path, **shortening: Any) -> tuple[Path | None, int]:
    runner = case.start(
        "run", str(case.experiment(source, **shortening)), "--target", "mesh", "--no-live"
    )
    applied = wait_for(
        lambda: (
            runner.poll() is not None
            or ((d := only_run_dir(case.runs)) is not None and fault_applied(d))
        )
    )
    if runner.poll() is None and applied:
        runner.kill()
    return only_run_dir(case.runs), runner.wait(timeout=CASE_DEADLINE_S)


def sigkill_rollback_case(case: Case, source: Path) -> CaseResult:
    """SIGKILL the runner while its fault is applied, then `gameday rollback RUN_DIR`."""
    result = CaseResult("sigkill+rollback", source.stem)
    run_dir, code = _kill_while_applied(case, source, pause_s=30.0)
    expect_exit(result, "run (SIGKILLed)", code, -9)
    if run_dir is not None:
        expect_exit(result, "rollback", case.run("rollback", str(run_dir)), 0)
    return result


def ttl_case(case: Case, source: Path, ttl_s: float) -> CaseResult:
    """SIGKILL the runner while its fault is applied; nothing but the fault's TTL (the
    proxy's, or the detached watchdog's) may lift it."""
    result = CaseResult("sigkill+ttl", source.stem, f"ttl {ttl_s:g} s")
    _, code = _kill_while_applied(case, source, pause_s=60.0, ttl_s=ttl_s)
    expect_exit(result, "run (SIGKILLed)", code, -9)
    return result


def game_day_plan(case: Case, source: Path) -> Path:
    """A one-step game-day plan on the running mesh whose fault stays applied a minute."""
    plan = {
        "title": f"torture game day {source.stem}",
        "description": "one long step, to be stopped",
        "target": {"kind": "mesh"},
        "load": {"users": 5, "spawn_rate": 5, "warmup_s": 1},
        "steps": [{"experiment": str(case.experiment(source, pause_s=60.0))}],
    }
    path = case.dir / "gameday.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


def stop_case(
    case: Case,
    sources: list[Path],
    variant: str,
    play: Path | None = None,
    monkey: bool = True,
    grace_s: float = 20.0,
) -> CaseResult:
    """Concurrent runs (and a game day and a monkey) under one runs folder, then `gameday
    stop`, then a run that the hold must refuse, then `gameday stop --clear`.

    `variant`: "live" (every runner answers SIGTERM), "hung" (the first run is SIGSTOPped
    first, so the stop must SIGKILL it) or "killed" (it was SIGKILLed before the stop)."""
    extras = (" + play" if play else "") + (" + monkey" if monkey else "")
    result = CaseResult("stop", f"{len(sources)} runs{extras}", variant)
    runners = [
        case.start("run", str(case.experiment(s, pause_s=60.0)), "--target", "mesh", "--no-live")
        for s in sources
    ]
    if play is not None:
        runners.append(case.start("play", str(game_day_plan(case, play))))
    if monkey:
        runners.append(
            case.start(
                "monkey",
                "--service",
                "catalog",
                "--mean-interval",
                "2s",
                "--window",
                "always",
                "--budget",
                "100",
                "--mesh-state",
                str(case.mesh_state),
            )
        )
    # Each run, the game day's step run, the game-day folder and the monkey's folder.
    folders = len(sources) + (2 if play else 0) + (1 if monkey else 0)

    def faulted(run_dir: Path) -> bool:
        return "monkey" in run_dir.name or "-gameday-" in run_dir.name or fault_applied(run_dir)

    wait_for(
        lambda: (
            any(runner.poll() is not None for runner in runners)
            or (
                len(run_dirs(case.runs)) >= folders and all(faulted(d) for d in run_dirs(case.runs))
            )
        )
    )
    expected: list[tuple[int, ...]] = [(3,)] * len(runners)
    if variant == "hung":
        runners[0].send_signal(signal.SIGSTOP)
        expected[0] = (-9,)
    elif variant == "killed":
        runners[0].kill()
        runners[0].wait(timeout=10)
        expected[0] = (-9,)
    expect_exit(result, "stop", case.run("stop", "--grace", f"{grace_s:g}s"), 0)
    for index, runner in enumerate(runners):
        expect_exit(
            result, f"runner {index}", runner.wait(timeout=CASE_DEADLINE_S), *expected[index]
        )
    refused = case.experiment(sources[0], pause_s=1.0)
    expect_exit(result, "run under the hold", case.run("run", str(refused), "--no-live"), 4)
    expect_exit(result, "stop --clear", case.run("stop", "--clear"), 0)
    return result


def corrupt_ledger_case(case: Case, source: Path, variant: str) -> CaseResult:
    """SIGKILL while applied, damage the ledger, then `gameday rollback RUN_DIR`.

    `torn`: the last line cut short (a crash mid-write): rollback undoes and exits 0.
    `garbled`: a line of garbage in the middle: the readable entries are still undone,
    and the rollback exits 4 because the garbled line may hide an applied fault."""
    result = CaseResult("corrupt ledger", source.stem, variant)
    run_dir, code = _kill_while_applied(case, source, pause_s=30.0)
    expect_exit(result, "run (SIGKILLed)", code, -9)
    if run_dir is None:
        return result
    ledger = run_dir / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    if variant == "torn":
        damaged = b"".join(lines) + lines[-1][: len(lines[-1]) // 2]
        expected = (0,)
    else:
        damaged = b"".join([*lines[:1], b"\x00\x17 not a ledger line }\n", *lines[1:]])
        expected = (4,)
    ledger.write_bytes(damaged)
    expect_exit(result, "rollback", case.run("rollback", str(run_dir)), *expected)
    return result


def corrupt_run_folder_case(case: Case, source: Path) -> CaseResult:
    """SIGKILL while applied, then damage the run folder (timeline cut mid-line and
    garbled, experiment.json and load/ gone, a garbage registry entry): rollback must
    still undo the fault (exit 0), report must fail cleanly (exit 2), and an emergency
    stop must ignore the garbage entry (exit 0)."""
    result = CaseResult("corrupt run folder", source.stem)
    run_dir, code = _kill_while_applied(case, source, pause_s=30.0)
    expect_exit(result, "run (SIGKILLed)", code, -9)
    if run_dir is None:
        return result
    timeline_file = run_dir / "timeline.jsonl"
    text = timeline_file.read_bytes()
    timeline_file.write_bytes(text[: len(text) // 2] + b"\n{garbage\n")
    (run_dir / "experiment.json").unlink(missing_ok=True)
    (run_dir / "summary.json").write_text("{not json")
    shutil.rmtree(run_dir / "load", ignore_errors=True)
    (case.runs / ".runner-999999-1.json").write_text("{garbage")
    expect_exit(result, "rollback", case.run("rollback", str(run_dir)), 0)
    expect_exit(result, "report", case.run("report", str(run_dir), runs_dir=False), 2)
    expect_exit(result, "stop", case.run("stop", "--grace", "5s"), 0)
    expect_exit(result, "stop --clear", case.run("stop", "--clear"), 0)
    return result
