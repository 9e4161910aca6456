"""`gameday rollback`: undo whatever any ledger says is still applied."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from chaos.safety.ledger import (
    DEFAULT_LEDGER,
    LEDGER_ENV,
    DamagedLine,
    Ledger,
    LedgerEntry,
    LedgerError,
    UndoFailed,
    undo_outstanding,
)

LEDGER_FILE = "ledger.jsonl"


@dataclass
class RollbackReport:
    ledgers: list[Path] = field(default_factory=list)
    undone: list[LedgerEntry] = field(default_factory=list)
    failures: list[UndoFailed] = field(default_factory=list)
    # Damaged lines nobody forgot yet; `unaccounted` ones may hide an applied fault.
    damaged: list[DamagedLine] = field(default_factory=list)
    # Ledgers that could not be read or written at all.
    errors: list[LedgerError] = field(default_factory=list)

    @property
    def unaccounted(self) -> list[DamagedLine]:
        return [line for line in self.damaged if line.may_hide_applied_fault]

    @property
    def ok(self) -> bool:
        """True when nothing may still be applied."""
        return not self.failures and not self.unaccounted and not self.errors


def find_ledgers(run_dir: Path | None = None, runs_dir: Path = Path("runs")) -> list[Path]:
    """One run folder's ledger (or a ledger file given directly), or every run folder's plus
    the default and env ledgers."""
    if run_dir is not None:
        return [Path(run_dir) if Path(run_dir).is_file() else Path(run_dir) / LEDGER_FILE]
    found = sorted(Path(runs_dir).glob(f"*/{LEDGER_FILE}"))
    for extra in (os.environ.get(LEDGER_ENV), str(DEFAULT_LEDGER)):
        if extra and Path(extra).is_file() and Path(extra) not in found:
            found.append(Path(extra))
    return found


def rollback_outstanding(ledger_paths: list[Path]) -> RollbackReport:
    """Call the undo of every readable outstanding entry of each ledger (newest first), then
    collect the damaged lines left in each: one bad line or ledger never stops the others."""
    report = RollbackReport(ledgers=[Path(p) for p in ledger_paths])
    for path in report.ledgers:
        ledger = Ledger(path)
        try:
            undone, failures = undo_outstanding(ledger)
            report.damaged += ledger.read().damaged
        except LedgerError as exc:
            report.errors.append(exc)
            continue
        report.undone += undone
        report.failures += failures
    return report
