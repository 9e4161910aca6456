"""One line of the fault ledger: a fault's state and the undo that reverses it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal[
    "intent", "applied", "undone", "undo_failed", "expired", "not_applied", "forgotten"
]
OUTSTANDING_STATUSES: frozenset[str] = frozenset({"intent", "applied", "undo_failed"})
# A damaged line that a person forgot is settled by an entry with this id prefix and the
# line's number (`line:7`), since the line itself has no readable id to settle.
DAMAGED_LINE_ID_PREFIX = "line:"
DAMAGED_LINE_KIND = "ledger.damaged_line"


class UndoSpec(BaseModel):
    """What reverses a fault: `module.func(**arguments)`. Must be safe to call twice."""

    model_config = ConfigDict(extra="forbid")

    module: str
    func: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def __str__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.arguments.items())
        return f"{self.module}.{self.func}({arguments})"


class LedgerEntry(BaseModel):
    """One line of the ledger."""

    model_config = ConfigDict(extra="ignore")

    id: str
    ts: float
    status: Status
    kind: str
    target: str
    undo: UndoSpec
    expires_at: float | None = None
    run_dir: str | None = None

    @property
    def outstanding(self) -> bool:
        return self.status in OUTSTANDING_STATUSES

    @property
    def forgotten_line(self) -> int | None:
        """The damaged line number this entry settles, for a `line:N` entry."""
        if not self.id.startswith(DAMAGED_LINE_ID_PREFIX):
            return None
        number = self.id.removeprefix(DAMAGED_LINE_ID_PREFIX)
        return int(number) if number.isdigit() else None
