"""Signals to a `gameday run` process at points of the method: rollbacks run, exit 3,
nothing left applied; after a SIGKILL, `gameday rollback` clears what the ledger holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaos.safety.ledger import Ledger

START_TIMEOUT_S = 30


@pytest.fixture
def spawn(gameday: Path, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    processes: list[subprocess.Popen] = []

    def start(experiment: Path) -> subprocess.Popen:
        process = subprocess.Popen(
            [
                str(gameday),
                "run",
                str(experiment),
                "--runs-dir",
                str(tmp_path / "runs"),
                "--no-live",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _run_dir(tmp_path: Path) -> Path:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = [p for p in (tmp_path / "runs").glob("*") if p.is_dir()]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no run folder appeared")


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _timeline(run_dir: Path) -> list[dict]:
    try:
        lines = (run_dir / "timeline.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _fault_applied(run_dir: Path) -> bool:
    return any(e.status == "applied" for e in Ledger(run_dir / "ledger.jsonl").entries())


def _assert_aborted_and_clean(process: subprocess.Popen, run_dir: Path, marker: Path) -> None:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, out + err
    assert "Traceback" not in err
    assert not marker.exists(), "the fault was left applied"
    assert not Ledger(run_dir / "ledger.jsonl").outstanding()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "aborted"
    phases = [e["name"] for e in _timeline(run_dir) if e["kind"] == "phase"]
    assert "rollbacks" in phases
    rollbacks = [e for e in _timeline(run_dir) if e["kind"] == "rollback"]
    assert any(e["id"] == "toy-undo" and e["ok"] for e in rollbacks)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_the_fault_pause(spawn, toy, marker: Path, tmp_path: Path, signum) -> None:
    process = spawn(toy(pause_s=30))
    run_dir = _run_dir(tmp_path)
    _wait_for(lambda: _fault_applied(run_dir), "the fault")
    process.send_signal(signum)
    _assert_aborted_and_clean(process, run_dir, marker)
    assert signum.name in json.loads((run_dir / "summary.json").read_text())["reason"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_inside_a_python_activity(spawn, toy, marker: Path, tmp_path: Path, signum) -> None:
    process = spawn(toy(action="set_marker_slowly", action_args=", delay_s: 30", pause_s=0))
    run_dir = _run_dir(tmp_path)
    _wait_for(lambda: _fault_applied(run_dir), "the fault")
    process.send_signal(signum)
    _assert_aborted_and_clean(process, run_dir, marker)


def test_signal_during_a_continuous_check(spawn, toy, marker: Path, tmp_path: Path) -> None:
    process = spawn(toy(pause_s=30, frequency_s=0.5))
    run_dir = _run_dir(tmp_path)
    _wait_for(
        lambda: any(e["kind"] == "check" and e["phase"] == "method" for e in _timeline(run_dir)),
        "a check during the method",
    )
    process.send_signal(signal.SIGINT)
    _assert_aborted_and_clean(process, run_dir, marker)


def test_sigkill_leaves_the_fault_and_gameday_rollback_clears_it(
    spawn, gameday: Path, toy, marker: Path, tmp_path: Path
) -> None:
    process = spawn(toy(pause_s=30))
    run_dir = _run_dir(tmp_path)
    _wait_for(lambda: _fault_applied(run_dir), "the fault")
    process.kill()
    process.wait(timeout=10)
    assert marker.exists()
    assert Ledger(run_dir / "ledger.jsonl").outstanding()
    rollback = subprocess.run(
        [str(gameday), "rollback", str(run_dir)], capture_output=True, text=True, timeout=60
    )
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "undone" in rollback.stdout
    assert not marker.exists()
    assert not Ledger(run_dir / "ledger.jsonl").outstanding()
    again = subprocess.run(
        [str(gameday), "rollback", "--runs-dir", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and "nothing outstanding" in again.stdout
