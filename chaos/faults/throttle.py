"""The CPU throttler behind `chaos.faults.resources.throttle_cpu`: a detached process that
lets the throttled replicas run `cpu_percent` of every `period_ms` and stops them (SIGSTOP)
for the rest, until its ledger entry is settled, it is told to stop (SIGTERM), or the
entry's TTL passes (then it undoes the entry itself and records it `expired`). It always
leaves the replicas running (SIGCONT) when it exits, and it removes its pid file.

Run as `python -m chaos.faults.throttle LEDGER_PATH ENTRY_ID CPU_PERCENT PERIOD_MS`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import psutil

from chaos.faults.detached import DetachedHelpers
from chaos.faults.process import _same_process
from chaos.safety.ledger import Ledger, LedgerEntry, LedgerError, undo_entry

_throttlers = DetachedHelpers("chaos.faults.throttle")


def start(
    ledger: Ledger, entry: LedgerEntry, cpu_percent: float, period_ms: int
) -> subprocess.Popen[bytes]:
    """Start the throttler for `entry` in its own session (it outlives the runner)."""
    return _throttlers.start(str(ledger.path.resolve()), entry.id, str(cpu_percent), str(period_ms))


def running_throttlers() -> list[subprocess.Popen[bytes]]:
    """Throttlers started by this process that are still running (finished ones reaped)."""
    return _throttlers.running()


def _processes(entry: LedgerEntry) -> list[psutil.Process]:
    found = (_same_process(r) for r in entry.undo.arguments.get("processes") or [])
    return [process for process in found if process is not None]


def _signal_all(processes: list[psutil.Process], stop: bool) -> None:
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            if stop:
                process.suspend()
            else:
                process.resume()


def throttle(ledger: Ledger, entry_id: str, cpu_percent: float, period_ms: int) -> str:
    """Duty-cycle the entry's processes until told otherwise; return why it stopped."""
    entry = ledger.get(entry_id)
    pid_file = Path(entry.undo.arguments["pid_file"])
    processes = _processes(entry)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    pid_file.write_text(f"{os.getpid()} {psutil.Process().create_time()}\n")
    period = period_ms / 1000
    running_s = period * cpu_percent / 100
    outcome = "stopped"
    try:
        cycle_start = time.monotonic()
        while not stopping.is_set():
            try:
                entry = ledger.get(entry_id)
            except LedgerError:
                outcome = "entry unreadable"
                break
            if not entry.outstanding:
                outcome = f"settled: {entry.status}"
                break
            if entry.expires_at is not None and time.time() >= entry.expires_at:
                outcome = "expired"
                break
            _signal_all(processes, stop=False)
            # Absolute deadlines, so that the time spent signalling does not add up.
            if stopping.wait(max(cycle_start + running_s - time.monotonic(), 0)):
                break
            _signal_all(processes, stop=True)
            cycle_start += period
            stopping.wait(max(cycle_start - time.monotonic(), 0))
    finally:
        _signal_all(processes, stop=False)
        pid_file.unlink(missing_ok=True)
    if outcome == "expired":
        with suppress(LedgerError):
            undo_entry(entry, ledger)
    return outcome


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(
            "usage: python -m chaos.faults.throttle LEDGER_PATH ENTRY_ID CPU_PERCENT PERIOD_MS",
            file=sys.stderr,
        )
        return 2
    throttle(Ledger(Path(argv[0])), argv[1], float(argv[2]), int(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
