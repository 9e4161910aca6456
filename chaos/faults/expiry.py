"""A detached watchdog that undoes a fault when its TTL passes.

For faults nothing else can expire — a disabled proxy (Toxiproxy has no TTL for that) and
a paused process — the provider starts this watchdog in its own session, so it outlives a
runner killed with SIGKILL. It polls the ledger and exits as soon as the entry is settled;
if the entry is still outstanding at `expires_at` it runs the entry's undo and records the
entry as `expired`.

Run as `python -m chaos.faults.expiry LEDGER_PATH ENTRY_ID`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from chaos.faults.detached import DetachedHelpers
from chaos.safety.ledger import Ledger, LedgerEntry, LedgerError, undo_entry

POLL_S = 0.25
_watchdogs = DetachedHelpers("chaos.faults.expiry")


def arm(ledger: Ledger, entry: LedgerEntry) -> subprocess.Popen[bytes]:
    """Start the watchdog for `entry` (which must carry `expires_at`) and return it."""
    if entry.expires_at is None:
        raise ValueError(f"ledger entry {entry.id} has no expires_at to watch")
    return _watchdogs.start(str(ledger.path.resolve()), entry.id)


def running_watchdogs() -> list[subprocess.Popen[bytes]]:
    """Watchdogs started by this process that are still running."""
    return _watchdogs.running()


def watch(ledger: Ledger, entry_id: str, poll_s: float = POLL_S) -> str:
    """Wait until the entry is settled or due; return what happened (for logs and tests)."""
    while True:
        if not ledger.path.exists():
            return "ledger gone"
        try:
            entry = ledger.get(entry_id)
        except LedgerError:
            return "entry unreadable"
        if not entry.outstanding:
            return f"settled: {entry.status}"
        if entry.expires_at is None:
            return "no expiry"
        remaining = entry.expires_at - time.time()
        if remaining <= 0:
            try:
                undo_entry(entry, ledger)
            except LedgerError as exc:
                return f"undo failed: {exc}"
            return "expired"
        time.sleep(min(poll_s, remaining))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m chaos.faults.expiry LEDGER_PATH ENTRY_ID", file=sys.stderr)
        return 2
    outcome = watch(Ledger(Path(argv[0])), argv[1])
    return 1 if outcome.startswith("undo failed") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
