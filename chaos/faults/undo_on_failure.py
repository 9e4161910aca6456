"""What a local fault does when applying it fails part way: undo what it did, and say
honestly whether that worked."""

from __future__ import annotations

from chaos.faults.errors import FaultNotApplied
from chaos.safety.ledger import Ledger, LedgerEntry, UndoFailed, undo_entry


def undone_or_outstanding(
    ledger: Ledger, entry: LedgerEntry, fault: str, cause: Exception
) -> FaultNotApplied:
    """Undo `entry` after `cause` stopped `fault` part way; the error to raise says that it
    was undone, or that its undo failed too and which ledger entry stays outstanding (its
    watchdog retries the undo at the TTL)."""
    try:
        undo_entry(entry, ledger)
    except UndoFailed as failure:
        return FaultNotApplied(
            f"{fault} failed part way ({cause}) and its undo failed too ({failure.reason}); "
            f"ledger entry {entry.id} in {ledger.path} stays outstanding and its watchdog "
            "retries the undo at the TTL, or run `gameday rollback`"
        )
    return FaultNotApplied(f"{fault} failed and was undone: {cause}")
