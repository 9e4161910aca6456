"""Faults from the timeline joined with their ledger history (by id).

The ledger (latest line per id wins) says when a fault was applied and when it was rolled
back (`undone`), lapsed (`expired`), could not be undone (`undo_failed`), never took effect
(`not_applied`) or was dropped by a person (`forgotten`). A ledger entry with no timeline
fault of the same id is still listed, so no applied fault goes unreported; the marker a
person leaves when forgetting a damaged ledger line is not a fault and is not listed.
"""

from __future__ import annotations

from typing import Any

from chaos.report.model import FaultRecord
from chaos.safety.ledger_entry import DAMAGED_LINE_KIND

SETTLED_STATUSES = ("undone", "expired", "undo_failed", "not_applied", "forgotten")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in value.items())
    return str(value)


def fault_records(
    timeline: list[dict[str, Any]], ledger: list[dict[str, Any]], t0: float
) -> list[FaultRecord]:
    records: dict[str, FaultRecord] = {}
    for event in timeline:
        if event.get("kind") != "fault":
            continue
        fault_id = str(event.get("id", event.get("name", "")))
        record = records.setdefault(
            fault_id,
            FaultRecord(
                id=fault_id,
                name=str(event.get("name", "")),
                target=_text(event.get("target")),
            ),
        )
        ts = float(event["ts"])
        if event.get("edge") == "start" and record.start is None:
            record.start = ts
        elif event.get("edge") == "end":
            record.end = ts
    for line in ledger:
        if "id" not in line or not isinstance(line.get("ts"), int | float):
            continue
        if line.get("kind") == DAMAGED_LINE_KIND:
            continue
        fault_id = str(line["id"])
        record = records.setdefault(
            fault_id,
            FaultRecord(id=fault_id, name=str(line.get("kind", "")), target=""),
        )
        record.kind = str(line.get("kind", record.kind))
        record.target = record.target or _text(line.get("target"))
        status = str(line.get("status", ""))
        record.status = status
        ts = float(line["ts"])
        if status == "applied" and record.applied_at is None:
            record.applied_at = ts
        elif status in SETTLED_STATUSES:
            record.rolled_back_at = ts
    for record in records.values():
        if record.start is None and record.applied_at is not None:
            record.start = record.applied_at
        record.start_offset_s = _offset(record.start, t0)
        record.end_offset_s = _offset(record.end, t0)
        record.rolled_back_offset_s = _offset(record.rolled_back_at, t0)
    return sorted(records.values(), key=lambda record: record.start or float("inf"))


def _offset(ts: float | None, t0: float) -> float | None:
    return round(ts - t0, 3) if ts is not None else None
