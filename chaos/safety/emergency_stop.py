"""`gameday stop`: halt every runner under a runs folder at once and leave nothing applied.

In order: place the hold (so nothing new starts while we stop), SIGTERM every registered
runner that is alive (each rolls back as on SIGTERM), SIGKILL the process tree of any that
has neither exited nor unregistered (it unregisters once its rollbacks are done) within
the grace period (a hung runner), then undo every outstanding entry of every ledger the
runners knew of: each run folder's, the ones the registry names, and the default and env
ledgers. A runner killed before the stop (SIGKILL) is found through
its run folder's ledger alone; the TTL watchdogs it armed are left running as a last net.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

from chaos.gameday.notes import append_note
from chaos.safety.ledger import LedgerEntry, LedgerError, UndoFailed
from chaos.safety.rollback import find_ledgers, rollback_outstanding
from chaos.safety.runner_registry import RunnerEntry, list_runners, unregister_runner
from chaos.safety.stop_hold import HoldNotPlaced, StopHold, place_hold

POLL_S = 0.1
# The TTL watchdogs outlive their runner on purpose: a stop never kills them.
WATCHDOG_MODULE = "chaos.faults.expiry"

Outcome = Literal["stopped", "killed", "already gone", "still running"]


@dataclass
class RunnerOutcome:
    runner: RunnerEntry
    outcome: Outcome
    seconds: float = 0.0


@dataclass
class StopReport:
    hold: StopHold | None
    hold_problem: str | None = None
    runners: list[RunnerOutcome] = field(default_factory=list)
    ledgers: list[Path] = field(default_factory=list)
    undone: list[LedgerEntry] = field(default_factory=list)
    failures: list[UndoFailed] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def may_still_be_applied(self) -> bool:
        """True when an undo failed, a ledger could not be read or a runner survived."""
        survivors = any(r.outcome == "still running" for r in self.runners)
        return bool(self.failures or self.unreadable or survivors)

    @property
    def complete(self) -> bool:
        """Nothing may still be applied and new runs are refused."""
        return not self.may_still_be_applied and self.hold is not None


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _is_watchdog(process: psutil.Process) -> bool:
    try:
        return WATCHDOG_MODULE in process.cmdline()
    except psutil.Error:
        return False


def _wait_exited(processes: dict[int, psutil.Process], deadline: float) -> set[int]:
    """Poll until every process has exited or `deadline` passes; return the survivors."""
    alive = set(processes)
    while alive:
        alive = {pid for pid in alive if _alive(processes[pid])}
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return alive


def _wait_done(
    runners: list[RunnerEntry],
    processes: dict[int, psutil.Process],
    started: float,
    deadline: float,
) -> dict[Path, float]:
    """Poll until every runner has exited or removed its registry entry (it does so once
    its rollbacks are done; writing reports may follow) or `deadline` passes; return the
    seconds after `started` at which each runner that did was seen done."""
    done: dict[Path, float] = {}
    while True:
        for runner in runners:
            process = processes.get(runner.pid)
            finished = process is None or not runner.path.exists() or not _alive(process)
            if runner.path not in done and finished:
                done[runner.path] = time.monotonic() - started
        if len(done) == len(runners) or time.monotonic() >= deadline:
            return done
        time.sleep(POLL_S)


def _kill_tree(process: psutil.Process) -> None:
    """SIGKILL a hung runner and everything it started except its TTL watchdogs."""
    try:
        children = process.children(recursive=True)
    except psutil.Error:
        children = []
    for victim in [process, *children]:
        if victim is not process and _is_watchdog(victim):
            continue
        with contextlib.suppress(psutil.Error):
            # A paused victim (SIGSTOP) dies of SIGKILL all the same.
            victim.kill()


def _note(runner: RunnerEntry, text: str) -> None:
    if runner.run_dir is None:
        return
    # The run's report says why it ended; a run folder that is gone or damaged must
    # not keep the stop from stopping.
    with contextlib.suppress(OSError, ValueError):
        append_note(Path(runner.run_dir), text, author="gameday stop")


def _signal_runners(
    report: StopReport, runners: list[RunnerEntry], grace_s: float, kill_wait_s: float
) -> None:
    processes: dict[int, psutil.Process] = {}
    for runner in runners:
        if runner.pid in processes or runner.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):
            processes[runner.pid] = psutil.Process(runner.pid)
    started = time.monotonic()
    for runner in runners:
        _note(runner, f"emergency stop: gameday stop (pid {os.getpid()}) sent SIGTERM")
    for process in processes.values():
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGTERM)
    done = _wait_done(runners, processes, started, started + grace_s)
    hung = {runner.pid for runner in runners if runner.path not in done}
    for pid in hung:
        _kill_tree(processes[pid])
    survivors = _wait_exited({pid: processes[pid] for pid in hung}, time.monotonic() + kill_wait_s)
    for runner in runners:
        if runner.path in done:
            report.runners.append(RunnerOutcome(runner, "stopped", round(done[runner.path], 2)))
            continue
        outcome: Outcome = "still running" if runner.pid in survivors else "killed"
        if outcome == "killed":
            _note(runner, f"emergency stop: not done {grace_s:g} s after SIGTERM; SIGKILLed")
        report.runners.append(RunnerOutcome(runner, outcome, round(time.monotonic() - started, 2)))


def _ledgers(runs_dir: Path, runners: list[RunnerEntry]) -> list[Path]:
    found = find_ledgers(None, runs_dir)
    seen = {path.resolve() for path in found}
    for runner in runners:
        if runner.ledger and Path(runner.ledger).resolve() not in seen:
            seen.add(Path(runner.ledger).resolve())
            found.append(Path(runner.ledger))
    return found


def emergency_stop(
    runs_dir: Path,
    hold_until: float | None = None,
    grace_s: float = 30.0,
    kill_wait_s: float = 10.0,
) -> StopReport:
    """Stop every runner registered under `runs_dir`, undo every outstanding ledger entry
    they knew of, and hold new runs until `hold_until` (None: until the hold is cleared)."""
    try:
        report = StopReport(hold=place_hold(runs_dir, hold_until))
    except HoldNotPlaced as exc:
        # Stopping what runs matters more than refusing what might start: go on.
        report = StopReport(hold=None, hold_problem=str(exc))
    registered = list_runners(runs_dir)
    live = [runner for runner in registered if runner.alive]
    for runner in registered:
        if runner not in live:
            report.runners.append(RunnerOutcome(runner, "already gone"))
    _signal_runners(report, live, grace_s, kill_wait_s)
    report.ledgers = _ledgers(runs_dir, registered)
    for path in report.ledgers:
        # One ledger at a time: a ledger that cannot be read never keeps the others' undos.
        try:
            rollback = rollback_outstanding([path])
        except LedgerError as exc:
            report.unreadable.append(str(exc))
            continue
        report.undone += rollback.undone
        report.failures += rollback.failures
        if not rollback.ok and not rollback.failures:
            report.unreadable.append(
                f"{path}: damaged lines may hide an applied fault (`gameday rollback {path}` "
                "names them)"
            )
    for outcome in report.runners:
        if outcome.outcome != "still running":
            unregister_runner(outcome.runner)
    return report
