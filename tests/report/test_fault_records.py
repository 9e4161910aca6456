"""Faults in a report from the ledger's every settling status."""

from __future__ import annotations

from chaos.report.faults import fault_records


def _line(fault_id: str, status: str, ts: float, kind: str = "k8s.toxic.latency") -> dict:
    return {"id": fault_id, "ts": ts, "status": status, "kind": kind, "target": "orders"}


def test_not_applied_and_forgotten_faults_are_settled_and_damaged_line_markers_are_no_faults():
    ledger = [
        _line("a", "intent", 100.0),
        _line("a", "not_applied", 101.0),
        _line("b", "intent", 102.0),
        _line("b", "applied", 103.0),
        _line("b", "forgotten", 110.0),
        _line("line:7", "forgotten", 111.0, kind="ledger.damaged_line"),
    ]
    records = {record.id: record for record in fault_records([], ledger, t0=100.0)}
    assert set(records) == {"a", "b"}
    assert records["a"].status == "not_applied" and records["a"].applied_at is None
    assert records["a"].rolled_back_offset_s == 1.0
    assert records["b"].status == "forgotten" and records["b"].rolled_back_offset_s == 10.0
