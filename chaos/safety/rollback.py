"""`gameday rollback`: undo whatever any ledger says is still applied."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from chaos.safety.ledger import (
    DEFAULT_LEDGER,
    LEDGER_ENV,
    Ledger,
    LedgerEntry,
    UndoFailed,
    undo_outstanding,
)

LEDGER_FILE = "ledger.jsonl"


@dataclass
class RollbackReport:
    ledgers: list[Path] = field(default_factory=list)
    undone: list[LedgerEntry] = field(default_factory=list)
    failures: list[UndoFailed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def find_ledgers(run_dir: Path | None = None, runs_dir: Path = Path("runs")) -> list[Path]:
    """One run folder's ledger, or every run folder's plus the default and env ledgers."""
    if run_dir is not None:
        return [Path(run_dir) / LEDGER_FILE]
    found = sorted(Path(runs_dir).glob(f"*/{LEDGER_FILE}"))
    for extra in (os.environ.get(LEDGER_ENV), str(DEFAULT_LEDGER)):
        if extra and Path(extra).is_file() and Path(extra) not in found:
            found.append(Path(extra))
    return found


def rollback_outstanding(ledger_paths: list[Path]) -> RollbackReport:
    """Call the undo of every outstanding entry of each ledger (newest first)."""
    report = RollbackReport(ledgers=[Path(p) for p in ledger_paths])
    for path in report.ledgers:
        undone, failures = undo_outstanding(Ledger(path))
        report.undone += undone
        report.failures += failures
    return report
