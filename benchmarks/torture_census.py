"""The torture suite's census: what a case left behind (faults on the proxies, paused
mesh processes, stray processes naming the case folder, broken invariants over the
acknowledged orders, tracebacks), each count given time to settle first, and the result
record of a case (`CaseResult`). Used by benchmarks/torture_cases.py and tests/torture.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from chaos.proxy import ToxiproxyClient
from chaos.targets.launcher import load_mesh_state
from chaos.targets.shop.invariants import InvariantError, check_invariants

if TYPE_CHECKING:
    from torture_cases import Case

CASE_DEADLINE_S = 120.0
SETTLE_S = 30.0
POLL_S = 0.05
GONE = (ProcessLookupError, psutil.NoSuchProcess)


@dataclass
class CaseResult:
    kind: str
    name: str
    detail: str = ""
    exit_codes: list[int] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    faults_left: int = 0
    paused: int = 0
    strays: int = 0
    orders_lost_or_double_charged: int = 0
    other_invariant_failures: int = 0
    tracebacks: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (
            self.unexpected_exits
            or self.faults_left
            or self.paused
            or self.strays
            or self.orders_lost_or_double_charged
            or self.other_invariant_failures
            or self.tracebacks
        )


def wait_for(condition: Callable[[], Any], timeout: float = CASE_DEADLINE_S) -> Any:
    """Poll `condition` until it returns something true or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(POLL_S)


# -- the census ---------------------------------------------------------------------------


def faults_on_proxies(proxy_api: str) -> int:
    with ToxiproxyClient(proxy_api, timeout=5.0) as client:
        return sum(len(p.toxics) + (0 if p.enabled else 1) for p in client.proxies().values())


def mesh_processes(mesh_state: Path) -> list[psutil.Process]:
    state = load_mesh_state(mesh_state)
    try:
        return psutil.Process(state.owner_pid).children(recursive=True)
    except psutil.Error:
        return []


def paused_processes(mesh_state: Path) -> int:
    count = 0
    for process in mesh_processes(mesh_state):
        with suppress(*GONE):
            count += process.status() == psutil.STATUS_STOPPED
    return count


def _names_folder(process: psutil.Process, folder: str) -> bool:
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if any(folder in part for part in process.cmdline()):
            return True
        return folder in process.environ().get("GAMEDAY_LOAD_SAMPLES", "")
    except psutil.Error:
        return False


def stray_processes(folder: Path) -> list[psutil.Process]:
    """Live processes (runners, Locust, TTL watchdogs) whose command line or load output
    names `folder`."""
    text = str(folder)
    return [p for p in psutil.process_iter() if p.pid != os.getpid() and _names_folder(p, text)]


def merged_acks(case: Case) -> Path:
    merged = case.dir / "acks-all.jsonl"
    with merged.open("w", encoding="utf-8") as out:
        for acks in case.runs.glob("**/load/acks.jsonl"):
            out.write(acks.read_text(encoding="utf-8", errors="replace"))
    return merged


def invariant_failures(mesh_state: Path, acks: Path) -> list[str]:
    try:
        report = check_invariants(load_mesh_state(mesh_state), acks)
    except InvariantError as exc:
        return [f"audit: {exc}"]
    return [check.name for check in report.checks if not check.ok]


def census(case: Case, result: CaseResult, settle_s: float = SETTLE_S) -> CaseResult:
    """Count what `case` left behind, giving undo, watchdogs and in-flight orders up to
    `settle_s` to finish what they were doing."""
    state = load_mesh_state(case.mesh_state)
    result.faults_left = settled_count(lambda: faults_on_proxies(state.proxy_api), settle_s)
    result.paused = settled_count(lambda: paused_processes(case.mesh_state), settle_s)
    result.strays = settled_count(lambda: len(stray_processes(case.dir)), settle_s)
    acks = merged_acks(case)
    failures: list[str] = []
    deadline = time.monotonic() + settle_s
    while True:
        # Orders in flight settle within seconds (outbox relay, saga compensation).
        failures = invariant_failures(case.mesh_state, acks)
        if not failures or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    lost = {"acknowledged_orders_confirmed", "charged_exactly_once"}
    result.orders_lost_or_double_charged = sum(1 for name in failures if name in lost)
    result.other_invariant_failures = sum(1 for name in failures if name not in lost)
    result.tracebacks = case.tracebacks()
    return result


def settled_count(count: Callable[[], int], settle_s: float) -> int:
    """Poll `count` until it is 0 or `settle_s` passes; return the last count."""
    deadline = time.monotonic() + settle_s
    while True:
        value = count()
        if value == 0 or time.monotonic() >= deadline:
            return value
        time.sleep(POLL_S * 4)


def expect_exit(result: CaseResult, what: str, actual: int, *expected: int) -> None:
    result.exit_codes.append(actual)
    if actual not in expected:
        result.unexpected_exits.append(f"{what}: exit {actual}, expected {expected}")


def wait_mesh_ready(mesh_state: Path, timeout: float = 60.0) -> bool:
    """Every replica in the state file is alive and not paused (a killed one restarted)."""

    def ready() -> bool:
        state = load_mesh_state(mesh_state)
        for service in state.services.values():
            for replica in service.replicas:
                try:
                    if psutil.Process(replica.pid).status() in (
                        psutil.STATUS_STOPPED,
                        psutil.STATUS_ZOMBIE,
                    ):
                        return False
                except psutil.Error:
                    return False
        return True

    return bool(wait_for(ready, timeout))
