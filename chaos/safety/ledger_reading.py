"""Reading a ledger that may be damaged: whole lines become entries, the rest are named.

A damaged line never stops the reading, so every readable outstanding fault can still be
undone. What a damaged line means for safety depends on what is left of it:

- torn (a JSON object cut short: a crash or a full disk mid-write): its writer never got
  past that write, and a fault is applied only after its intent line is whole, so a torn
  line is never the only record of an applied fault;
- its `id` is still legible and other lines of that id are readable: the entry is known,
  and if the damaged line is its latest, the entry counts as outstanding (its undo is safe
  to call twice);
- otherwise it may record a fault that is still applied: only a person can tell.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from chaos.safety.ledger_entry import LedgerEntry

_LEGIBLE_ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,64})"')
_SHOWN_CHARS = 160
_LITERALS = ("null", "true", "false")
_NUMBER_TAIL = re.compile(r"[-+.eE0-9]*\Z")


@dataclass(frozen=True)
class DamagedLine:
    """A line of the ledger that is not a ledger entry."""

    path: Path
    line_no: int
    reason: str
    text: str
    torn: bool
    entry_id: str | None = None
    # True when the entry this line belonged to is known from its other, readable lines.
    known_entry: bool = False
    # True when no readable line of that entry comes after this one.
    latest_of_entry: bool = False

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line_no}"

    @property
    def forget_id(self) -> str:
        """The id `gameday rollback --forget` takes for this line."""
        return f"line:{self.line_no}"

    @property
    def may_hide_applied_fault(self) -> bool:
        return not self.torn and not self.known_entry


@dataclass
class LedgerReading:
    """Every readable line in file order, and every damaged line nobody forgot yet."""

    history: list[LedgerEntry] = field(default_factory=list)
    damaged: list[DamagedLine] = field(default_factory=list)

    def entries(self) -> list[LedgerEntry]:
        """The current state of every fault (latest readable line per id), in order of first
        line."""
        latest: dict[str, LedgerEntry] = {}
        for entry in self.history:
            latest[entry.id] = entry
        return list(latest.values())

    def outstanding(self) -> list[LedgerEntry]:
        """Entries whose latest state may be applied: `intent`, `applied`, `undo_failed`, or
        a damaged line that came after the entry's last readable line."""
        superseded_by_damage = {
            line.entry_id for line in self.damaged if line.known_entry and line.latest_of_entry
        }
        return [
            entry
            for entry in self.entries()
            if entry.outstanding or entry.id in superseded_by_damage
        ]

    @property
    def unaccounted(self) -> list[DamagedLine]:
        """Damaged lines that may record a fault still applied."""
        return [line for line in self.damaged if line.may_hide_applied_fault]


def _read_line(line: bytes) -> LedgerEntry | tuple[str, bool]:
    """The entry on `line`, or what is wrong with it and whether it is torn."""
    try:
        data = json.loads(line)
    except UnicodeDecodeError:
        return "not UTF-8 text", False
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} (column {exc.colno})", _is_torn(line, exc)
    try:
        return LedgerEntry.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field_name = ".".join(str(part) for part in error.get("loc", ())) or "line"
        return f"not a ledger entry ({field_name}: {error['msg']})", False


def _is_torn(line: bytes, exc: json.JSONDecodeError) -> bool:
    """A prefix of a line the ledger wrote: plain ASCII JSON that only ran out of input.

    Lines are written by `json.dumps` (ASCII, no control characters), so a line holding
    control or non-ASCII bytes was garbled after it was written, not cut short.
    """
    stripped = line.strip()
    if not stripped.startswith(b"{") or any(byte < 0x20 or byte > 0x7E for byte in stripped):
        return False
    if exc.msg.startswith("Unterminated string"):
        return True
    # What the parser choked on must be the unfinished end of a value: nothing, or the
    # start of a literal or a number's tail.
    rest = exc.doc[exc.pos :].rstrip()
    return any(literal.startswith(rest) for literal in _LITERALS) or bool(_NUMBER_TAIL.match(rest))


def _printable(line: bytes) -> str:
    """The line as text a terminal shows as it is: other bytes as `\\xNN` escapes."""
    text = line.decode("utf-8", errors="backslashreplace")
    return "".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in text)


def parse_ledger(path: Path, raw: bytes) -> LedgerReading:
    """Split the bytes of the ledger at `path` into entries and damaged lines."""
    reading = LedgerReading()
    damaged: list[DamagedLine] = []
    # Readable lines per id, to know whether a damaged line's entry is known and whether
    # the damaged line came after all of them.
    last_readable: dict[str, int] = {}
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        parsed = _read_line(line)
        if isinstance(parsed, LedgerEntry):
            reading.history.append(parsed)
            last_readable[parsed.id] = number
            continue
        reason, torn = parsed
        legible = _LEGIBLE_ID.search(line)
        damaged.append(
            DamagedLine(
                path=path,
                line_no=number,
                reason=reason,
                text=_printable(line)[:_SHOWN_CHARS],
                torn=torn,
                entry_id=legible.group(1).decode("ascii", errors="replace") if legible else None,
            )
        )
    forgotten = {entry.forgotten_line for entry in reading.history} - {None}
    for line in damaged:
        if line.line_no in forgotten:
            continue
        if line.entry_id is not None and line.entry_id in last_readable:
            line = replace(
                line,
                known_entry=True,
                latest_of_entry=last_readable[line.entry_id] < line.line_no,
            )
        reading.damaged.append(line)
    return reading
