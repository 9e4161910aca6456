"""A damaged ledger never blocks the other undos; what cannot be read is named, and a
person can forget an entry or a damaged line on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.safety.ledger import Ledger, NotOutstanding, UnknownEntry
from chaos.safety.rollback import rollback_outstanding

GARBLED = b'{"id": "zz", "ts": 1, \x00\x00 garbage from a bad disk sector\n'


def _applied(ledger: Ledger, marker: Path, marker_undo) -> str:
    marker.write_text("on")
    entry = ledger.record_intent("test.marker", marker.name, marker_undo(marker))
    ledger.mark(entry, "applied")
    return entry.id


def _append_raw(ledger: Ledger, raw: bytes) -> None:
    with open(ledger.path, "ab") as handle:
        handle.write(raw)


def test_not_applied_is_settled_and_never_outstanding(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    entry = ledger.record_intent("k8s.kill_pods", "shop/catalog", {"module": "m", "func": "f"})
    assert [e.id for e in ledger.outstanding()] == [entry.id]
    ledger.mark(entry, "not_applied")
    assert ledger.outstanding() == []
    assert rollback_outstanding([ledger.path]).ok


def test_garbled_middle_line_does_not_block_the_undos_around_it(
    tmp_path: Path, marker_undo
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    before = _applied(ledger, tmp_path / "before", marker_undo)
    _append_raw(ledger, GARBLED)
    after = _applied(ledger, tmp_path / "after", marker_undo)
    report = rollback_outstanding([ledger.path])
    assert {entry.id for entry in report.undone} == {before, after}
    assert not (tmp_path / "before").exists() and not (tmp_path / "after").exists()
    [damaged] = report.damaged
    assert (damaged.path, damaged.line_no) == (ledger.path, 3)
    assert damaged.reason.startswith("not JSON")
    # Nothing tells what the garbled line was: it may hide an applied fault.
    assert damaged.may_hide_applied_fault and not report.ok


def test_damaged_latest_line_of_a_known_entry_keeps_it_outstanding(
    tmp_path: Path, marker_undo
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    marker = tmp_path / "m"
    entry_id = _applied(ledger, marker, marker_undo)
    ledger.mark(entry_id, "undone")
    marker.write_text("on")  # re-applied; the line that said so was garbled
    _append_raw(ledger, f'{{"id":"{entry_id}","ts":2,"status":"appl\x01ed"}}\n'.encode())
    assert [e.id for e in ledger.outstanding()] == [entry_id]
    report = rollback_outstanding([ledger.path])
    assert [e.id for e in report.undone] == [entry_id] and not marker.exists()
    [damaged] = report.damaged
    assert damaged.known_entry and not damaged.may_hide_applied_fault
    assert report.ok


def test_damaged_line_superseded_by_a_later_line_is_harmless(tmp_path: Path, marker_undo) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    entry_id = _applied(ledger, tmp_path / "m", marker_undo)
    _append_raw(ledger, f'{{"id": "{entry_id}", "status": 7}}\n'.encode())
    ledger.mark(entry_id, "undone")
    assert ledger.outstanding() == []
    assert rollback_outstanding([ledger.path]).ok


def test_torn_line_is_named_but_never_counts_as_applied(tmp_path: Path, marker_undo) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    _append_raw(ledger, b'{"id": "torn1", "ts": 1, "sta')  # a power cut mid-write
    kept = _applied(ledger, tmp_path / "m", marker_undo)  # the append starts a new line
    report = rollback_outstanding([ledger.path])
    assert [e.id for e in report.undone] == [kept]
    [torn] = report.damaged
    assert torn.torn and torn.line_no == 1 and report.ok


def test_unreadable_ledger_file_is_an_error_and_others_still_roll_back(
    tmp_path: Path, marker_undo
) -> None:
    good = Ledger(tmp_path / "good.jsonl")
    applied = _applied(good, tmp_path / "m", marker_undo)
    folder_not_file = tmp_path / "bad.jsonl"
    folder_not_file.mkdir()
    report = rollback_outstanding([folder_not_file, good.path])
    assert [e.id for e in report.undone] == [applied]
    [error] = report.errors
    assert str(folder_not_file) in str(error) and not report.ok


def test_forget_settles_an_entry_without_calling_its_undo(tmp_path: Path, marker_undo) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    marker = tmp_path / "m"
    entry_id = _applied(ledger, marker, marker_undo)
    ledger.forget(entry_id)
    assert ledger.get(entry_id).status == "forgotten"
    assert ledger.outstanding() == [] and marker.exists()
    with pytest.raises(NotOutstanding, match="forgotten"):
        ledger.forget(entry_id)
    with pytest.raises(UnknownEntry):
        ledger.forget("nosuchid")


def test_forgetting_a_damaged_line_stops_it_from_counting(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    _append_raw(ledger, GARBLED)
    assert not rollback_outstanding([ledger.path]).ok
    ledger.forget("line:1")
    report = rollback_outstanding([ledger.path])
    assert report.damaged == [] and report.ok
    with pytest.raises(UnknownEntry):
        ledger.forget("line:1")


# -- the command line ----------------------------------------------------------------------


def _rollback(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["rollback", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_rollback_command_undoes_then_names_the_unreadable_line(
    tmp_path: Path, marker_undo
) -> None:
    run_dir = tmp_path / "runs" / "20260101T000000Z-x"
    run_dir.mkdir(parents=True)
    ledger = Ledger(run_dir / "ledger.jsonl")
    _applied(ledger, tmp_path / "before", marker_undo)
    _append_raw(ledger, GARBLED)
    _applied(ledger, tmp_path / "after", marker_undo)
    code, output = _rollback(str(run_dir))
    assert code == 4
    assert output.count("undone test.marker") == 2
    assert f"{ledger.path}:3" in output and "may record a fault that is still applied" in output
    assert "--forget line:3" in output
    assert not (tmp_path / "before").exists() and not (tmp_path / "after").exists()
    # The forget the message suggests works, and then nothing is left.
    code, output = _rollback(str(ledger.path), "--forget", "line:3")
    assert code == 0 and "forgetting damaged line" in output
    assert "\\x00\\x00 garbage from a bad disk sector" in output and "\x00" not in output
    code, output = _rollback(str(run_dir))
    assert code == 0 and "nothing outstanding in 1 ledger(s)" in output


def test_rollback_forget_prints_what_it_drops(tmp_path: Path, marker_undo) -> None:
    runs = tmp_path / "runs"
    ledger = Ledger(runs / "20260101T000000Z-x" / "ledger.jsonl")
    marker = tmp_path / "m"
    entry_id = _applied(ledger, marker, marker_undo)
    code, output = _rollback("--runs-dir", str(runs), "--forget", entry_id)
    assert code == 0
    assert f"forgetting test.marker on m ({entry_id}, applied)" in output
    assert "remove_marker" in output and "stays applied" in output
    assert marker.exists()  # forgetting calls no undo
    lines = [json.loads(line) for line in ledger.path.read_text().splitlines()]
    assert lines[-1]["status"] == "forgotten" and lines[-1]["id"] == entry_id
    code, output = _rollback("--runs-dir", str(runs), "--forget", entry_id)
    assert code == 2 and "nothing to forget" in output
    code, output = _rollback("--runs-dir", str(runs), "--forget", "nosuchid")
    assert code == 2 and "no outstanding entry or damaged line 'nosuchid'" in output


# -- a ledger on a full disk ---------------------------------------------------------------

APPEND_ON_A_FULL_DISK = """
import resource, signal, sys
from chaos.safety.ledger import Ledger, LedgerError
path, room = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG like a full disk, not a kill
size = len(open(path, "rb").read())
resource.setrlimit(resource.RLIMIT_FSIZE, (size + room, resource.RLIM_INFINITY))
try:
    Ledger(path).record_intent("k", "never-applied", {"module": "m", "func": "f"})
except LedgerError as exc:
    print(exc)
    sys.exit(3)
"""


def _with_file_size_room(script: str, *args: str, room: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script, *args, str(room)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_intent_line_cut_short_by_a_full_disk_raises_and_reads_as_torn(
    tmp_path: Path, marker_undo
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    kept = _applied(ledger, tmp_path / "m", marker_undo)
    result = _with_file_size_room(APPEND_ON_A_FULL_DISK, str(ledger.path), room=20)
    assert result.returncode == 3, result.stderr
    assert f"cannot write the ledger {ledger.path}" in result.stdout
    [torn] = ledger.read().damaged
    assert torn.torn and not torn.may_hide_applied_fault
    assert [entry.id for entry in ledger.outstanding()] == [kept]


def test_rollback_that_cannot_record_its_undo_exits_4_naming_the_ledger(
    tmp_path: Path, undo_module: str, marker_undo
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    marker = tmp_path / "m"
    entry_id = _applied(ledger, marker, marker_undo)
    rollback = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "size = len(open(sys.argv[1], 'rb').read())\n"
        "room = int(sys.argv[2])\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (size + room, resource.RLIM_INFINITY))\n"
        f"sys.path.insert(0, {str(tmp_path / 'mods')!r})\n"
        "from chaos.cli.main import app\n"
        "app(['rollback', sys.argv[1]])\n"
    )
    result = _with_file_size_room(rollback, str(ledger.path), room=0)
    assert result.returncode == 4, result.stderr
    said = " ".join((result.stdout + result.stderr).split())
    assert "Traceback" not in said
    assert f"ledger id {entry_id}) failed: the undo ran but was not recorded" in said
    assert f"cannot write the ledger {ledger.path}" in said
    assert not marker.exists()  # the fault itself is gone
    assert [entry.id for entry in ledger.outstanding()] == [entry_id]  # and stays listed


def test_rollback_of_a_missing_runs_folder_says_so(tmp_path: Path) -> None:
    code, output = _rollback("--runs-dir", str(tmp_path / "nope"))
    assert code == 2
    assert f"no runs folder {tmp_path / 'nope'}: nothing was searched or undone" in " ".join(
        output.split()
    )
