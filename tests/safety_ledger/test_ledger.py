"""The fault ledger: format, latest-line-wins, outstanding, concurrency, undo and expiry."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from chaos.faults import expiry
from chaos.safety.ledger import (
    Ledger,
    LedgerError,
    UndoFailed,
    UndoSpec,
    UnknownEntry,
    find_ledger,
    undo_entry,
    undo_outstanding,
)


def test_lines_follow_the_documented_format(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "run" / "ledger.jsonl")
    undo = {"module": "m", "func": "f", "arguments": {"a": 1}}
    entry = ledger.record_intent(
        "network.latency", "orders->payments", undo, expires_at=123.0, run_dir="runs/x"
    )
    ledger.mark(entry, "applied")
    lines = [json.loads(line) for line in ledger.path.read_text().splitlines()]
    assert [line["status"] for line in lines] == ["intent", "applied"]
    assert set(lines[0]) == {
        "id",
        "ts",
        "status",
        "kind",
        "target",
        "undo",
        "expires_at",
        "run_dir",
    }
    assert lines[0]["undo"] == undo
    assert lines[0]["id"] == lines[1]["id"] == entry.id
    assert lines[0]["expires_at"] == 123.0 and lines[0]["run_dir"] == "runs/x"
    assert lines[1]["ts"] >= lines[0]["ts"]


def test_latest_line_per_id_wins_and_outstanding(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    undo = {"module": "m", "func": "f"}
    statuses = ["intent", "applied", "undone", "undo_failed", "expired", "not_applied"]
    ids = {}
    for final in statuses:
        entry = ledger.record_intent("k", final, undo)
        if final != "intent":
            ledger.mark(entry.id, final)
        ids[final] = entry.id
    assert len(ledger.history()) == 11
    assert {e.target: e.status for e in ledger.entries()} == {s: s for s in statuses}
    outstanding = {e.target for e in ledger.outstanding()}
    assert outstanding == {"intent", "applied", "undo_failed"}
    # An undone fault that is marked applied again (re-applied) is outstanding again.
    ledger.mark(ids["undone"], "applied")
    assert "undone" in {e.target for e in ledger.outstanding()}
    with pytest.raises(UnknownEntry):
        ledger.get("nope")


def test_unwritable_ledger_is_a_typed_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the ledger's folder should be")
    with pytest.raises(LedgerError, match="cannot write the ledger"):
        Ledger(blocker / "ledger.jsonl").record_intent("k", "t", {"module": "m", "func": "f"})


def test_missing_ledger_is_empty(tmp_path: Path) -> None:
    assert Ledger(tmp_path / "absent.jsonl").outstanding() == []


def _append_many(path: str, writer: int, count: int) -> None:
    ledger = Ledger(path)
    for n in range(count):
        entry = ledger.record_intent("k", f"w{writer}-{n}", {"module": "m", "func": "f"})
        ledger.mark(entry, "applied")


def test_concurrent_appends_from_processes_and_threads_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    per_writer = 60
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, per_writer)) for w in range(3)]
    threads = [
        threading.Thread(target=_append_many, args=(str(path), 10 + w, per_writer))
        for w in range(3)
    ]
    try:
        for proc in procs:
            proc.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
    raw = path.read_text().splitlines()
    assert len(raw) == 6 * per_writer * 2
    for line in raw:
        json.loads(line)  # every line is whole
    entries = Ledger(path).entries()
    assert len(entries) == 6 * per_writer
    assert all(entry.status == "applied" for entry in entries)


def test_torn_last_line_is_skipped_and_next_append_starts_a_new_line(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    kept = ledger.record_intent("k", "kept", {"module": "m", "func": "f"})
    with open(ledger.path, "ab") as handle:
        handle.write(b'{"id": "torn", "ts": 1, "sta')  # a power cut mid-write
    assert [e.id for e in ledger.entries()] == [kept.id]
    later = ledger.record_intent("k", "later", {"module": "m", "func": "f"})
    assert [e.id for e in ledger.entries()] == [kept.id, later.id]


def test_find_ledger_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAMEDAY_LEDGER", raising=False)
    assert find_ledger(None).path == Path(".gameday/ledger.jsonl")
    monkeypatch.setenv("GAMEDAY_LEDGER", str(tmp_path / "env.jsonl"))
    assert find_ledger({}).path == tmp_path / "env.jsonl"
    configured = {"gameday_ledger": str(tmp_path / "run" / "ledger.jsonl")}
    assert find_ledger(configured).path == tmp_path / "run" / "ledger.jsonl"


def test_undo_entry_calls_the_undo_and_is_idempotent(tmp_path: Path, marker_undo) -> None:
    marker = tmp_path / "fault-applied"
    marker.write_text("on")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    entry = ledger.record_intent("test.marker", "marker", marker_undo(marker))
    ledger.mark(entry, "applied")
    undo_entry(entry, ledger)
    assert not marker.exists()
    assert ledger.get(entry.id).status == "undone"
    undo_entry(entry, ledger)  # a second undo of a vanished fault is fine
    assert ledger.get(entry.id).status == "undone"
    assert Path(str(marker) + ".calls").read_text().count("undo") == 2
    assert ledger.outstanding() == []


def test_undo_failures_are_typed_and_recorded(tmp_path: Path, undo_module: str) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    failing = ledger.record_intent(
        "k", "boom", UndoSpec(module=undo_module, func="explode", arguments={"reason": "no"})
    )
    with pytest.raises(UndoFailed, match="RuntimeError: no"):
        undo_entry(failing, ledger)
    assert ledger.get(failing.id).status == "undo_failed"
    missing = ledger.record_intent("k", "gone", {"module": "no.such.module", "func": "f"})
    with pytest.raises(UndoFailed, match="cannot import no.such.module.f"):
        undo_entry(missing, ledger)
    assert {e.id for e in ledger.outstanding()} == {failing.id, missing.id}


def test_undo_outstanding_settles_what_it_can(
    tmp_path: Path, undo_module: str, marker_undo
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    markers = [tmp_path / f"m{i}" for i in range(2)]
    for marker in markers:
        marker.write_text("on")
        entry = ledger.record_intent("k", marker.name, marker_undo(marker))
        ledger.mark(entry, "applied")
    bad = ledger.record_intent(
        "k", "bad", UndoSpec(module=undo_module, func="explode", arguments={"reason": "x"})
    )
    settled, failures = undo_outstanding(ledger)
    assert sorted(e.target for e in settled) == ["m0", "m1"]
    assert [f.entry.id for f in failures] == [bad.id]
    assert not any(marker.exists() for marker in markers)
    assert [e.id for e in ledger.outstanding()] == [bad.id]


def test_lapsed_entry_is_recorded_as_expired(tmp_path: Path, marker_undo) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    marker = tmp_path / "marker"
    entry = ledger.record_intent("k", "t", marker_undo(marker), expires_at=time.time() - 1)
    undo_entry(entry, ledger)
    assert ledger.get(entry.id).status == "expired"


def _wait_exit(proc, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return proc.returncode
        time.sleep(0.05)
    return None


def test_watchdog_undoes_a_fault_whose_ttl_passed(tmp_path: Path, marker_undo) -> None:
    marker = tmp_path / "paused"
    marker.write_text("on")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    entry = ledger.record_intent(
        "test.marker", "m", marker_undo(marker), expires_at=time.time() + 1.0
    )
    ledger.mark(entry, "applied")
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path / "mods"), env_path]))
    try:
        proc = expiry.arm(ledger, entry)
    finally:
        os.environ["PYTHONPATH"] = env_path
    try:
        assert _wait_exit(proc, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert not marker.exists()
    assert ledger.get(entry.id).status == "expired"


def test_watchdog_exits_without_undoing_once_the_entry_is_settled(
    tmp_path: Path, marker_undo
) -> None:
    marker = tmp_path / "marker"
    marker.write_text("on")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    entry = ledger.record_intent(
        "test.marker", "m", marker_undo(marker), expires_at=time.time() + 600
    )
    proc = expiry.arm(ledger, entry)
    try:
        ledger.mark(entry, "undone")
        assert _wait_exit(proc, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert marker.exists()  # the watchdog did not run the undo itself
    assert ledger.get(entry.id).status == "undone"
