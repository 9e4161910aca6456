"""`gameday note`: the active-run marker and notes stamped into the run's timeline."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.gameday.active import active_run, clear_active, mark_active, marker_path
from chaos.gameday.errors import NoActiveRun
from chaos.gameday.notes import stamp_note
from chaos.report import build_report


def test_a_note_lands_in_the_active_runs_timeline_and_report(make_run: Callable[..., Path]):
    run = make_run(notes=())
    runs_dir = run.parent
    mark_active(run)
    result = CliRunner().invoke(
        app, ["note", "checkout | spinner shows", "--runs-dir", str(runs_dir), "--author", "ana"]
    )
    assert result.exit_code == 0, result.output
    last = json.loads((run / "timeline.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "note" and last["text"] == "checkout | spinner shows"
    assert last["author"] == "ana"
    [note] = build_report(run).notes
    assert note.text == "checkout | spinner shows" and note.ts == last["ts"]


def test_clearing_only_removes_the_marker_of_the_same_run(tmp_path: Path):
    first, second = tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    first.mkdir(parents=True)
    second.mkdir()
    mark_active(first)
    mark_active(second)
    clear_active(first)
    assert active_run(tmp_path / "runs") == second.resolve()
    clear_active(second)
    assert not marker_path(tmp_path / "runs").exists()
    with pytest.raises(NoActiveRun, match="no run in progress"):
        stamp_note(tmp_path / "runs", "too late")


def test_a_marker_left_by_a_dead_process_is_not_active(tmp_path: Path):
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    marker_path(run.parent).write_text(json.dumps({"run_dir": str(run), "pid": int(dead.stdout)}))
    with pytest.raises(NoActiveRun, match="no longer in progress"):
        active_run(run.parent)


def test_note_without_an_active_run_exits_2(tmp_path: Path):
    result = CliRunner().invoke(app, ["note", "hello", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no run in progress" in result.output
