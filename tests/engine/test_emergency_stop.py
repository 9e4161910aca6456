"""`gameday stop` against real `gameday run` processes: a running, a hung (SIGSTOPped) and a
SIGKILLed runner are all dealt with, every fault is undone, and nothing new starts until
`gameday stop --clear`; a dead runner's registry entry blocks nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from chaos.engine import RunOptions, run_experiment
from chaos.safety.emergency_stop import emergency_stop
from chaos.safety.ledger import Ledger
from chaos.safety.runner_registry import list_runners, register_runner
from chaos.safety.stop_hold import (
    EmergencyStopActive,
    clear_hold,
    current_hold,
    place_hold,
    refuse_if_stopped,
)

DEADLINE_S = 60


def _experiment(tmp_path: Path, name: str, pause_s: float) -> tuple[Path, Path]:
    """A toy run whose fault is a marker file (its undo removes it)."""
    marker = tmp_path / f"marker-{name}"
    path = tmp_path / f"toy-{name}.yaml"
    path.write_text(
        f"""\
title: toy {name}
description: an emergency stop test
target: none
load: false
steady-state-hypothesis:
  title: constant
  probes:
    - type: probe
      name: toy-check
      tolerance: 1
      provider: {{type: python, module: toy_providers, func: constant, arguments: {{value: 1}}}}
method:
  - type: action
    name: toy-fault
    provider:
      type: python
      module: toy_providers
      func: set_marker
      arguments: {{path: {marker}, ttl_s: 600}}
    pauses: {{after: {pause_s}}}
rollbacks:
  - type: action
    name: toy-undo
    provider:
      type: python
      module: toy_providers
      func: clear_marker
      arguments: {{path: {marker}}}
"""
    )
    return path, marker


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _run_dir_of(runs: Path, title: str) -> Path | None:
    for experiment in runs.glob("*/experiment.json"):
        try:
            if json.loads(experiment.read_text()).get("title") == title:
                return experiment.parent
        except ValueError:
            continue  # still being written
    return None


def _applied(run_dir: Path | None) -> bool:
    if run_dir is None:
        return False
    return any(e.status == "applied" for e in Ledger(run_dir / "ledger.jsonl").entries())


@pytest.fixture
def gameday_cli(gameday: Path, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts `gameday` subcommands under tmp_path/runs; kills what is left at the end."""
    processes: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [str(gameday), *args, "--runs-dir", str(tmp_path / "runs")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # The stop also sweeps the working directory's default ledger: never the
            # checkout's own.
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if k != "GAMEDAY_LEDGER"} | {"COLUMNS": "200"},
        )
        processes.append(process)
        return process

    try:
        yield start
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(timeout=10)


@pytest.mark.slow
def test_stop_halts_running_hung_and_killed_runners_and_holds(gameday_cli, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    names = ("running", "hung", "killed")
    experiments = {name: _experiment(tmp_path, name, pause_s=120) for name in names}
    runners = {
        name: gameday_cli("run", str(path), "--no-live") for name, (path, _) in experiments.items()
    }
    for name in names:
        _wait_for(lambda name=name: _applied(_run_dir_of(runs, f"toy {name}")), f"{name}'s fault")
    runners["hung"].send_signal(signal.SIGSTOP)
    runners["killed"].kill()
    runners["killed"].wait(timeout=10)

    stop = gameday_cli("stop", "--grace", "10s")
    out, err = stop.communicate(timeout=DEADLINE_S)

    assert stop.returncode == 0, out + err
    assert "Traceback" not in out + err
    assert f"stopped run pid {runners['running'].pid}" in out
    assert f"killed run pid {runners['hung'].pid}" in out
    assert f"already gone run pid {runners['killed'].pid}" in out
    assert runners["running"].wait(timeout=DEADLINE_S) == 3  # rolled back as on SIGTERM
    assert runners["hung"].wait(timeout=DEADLINE_S) == -signal.SIGKILL
    for name, (_, marker) in experiments.items():
        assert not marker.exists(), f"the {name} runner's fault was left applied"
        run_dir = _run_dir_of(runs, f"toy {name}")
        assert run_dir is not None
        assert not Ledger(run_dir / "ledger.jsonl").outstanding()
    assert list_runners(runs) == []

    refused_path, refused_marker = _experiment(tmp_path, "refused", pause_s=0.1)
    refused = gameday_cli("run", str(refused_path), "--no-live")
    out, err = refused.communicate(timeout=DEADLINE_S)
    assert refused.returncode == 4, out + err
    assert "emergency stop holds" in out + err and "gameday stop --clear" in out + err
    assert _run_dir_of(runs, "toy refused") is None and not refused_marker.exists()

    cleared = gameday_cli("stop", "--clear")
    out, err = cleared.communicate(timeout=DEADLINE_S)
    assert cleared.returncode == 0 and "cleared" in out, out + err
    again = gameday_cli("run", str(refused_path), "--no-live")
    out, err = again.communicate(timeout=DEADLINE_S)
    assert again.returncode == 0, out + err


def test_a_dead_runners_entry_blocks_nothing_and_stop_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stop sweeps the default ledger of the working directory too: not the checkout's.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAMEDAY_LEDGER", raising=False)
    runs = tmp_path / "runs"
    entry = register_runner(runs, "run", tmp_path / "gone")
    # The same pid with another start time: the registered process is gone, the pid reused.
    data = json.loads(entry.path.read_text())
    entry.path.write_text(json.dumps({**data, "create_time": data["create_time"] - 1000}))
    (dead,) = list_runners(runs)
    assert not dead.alive

    report = emergency_stop(runs, grace_s=1)

    assert [(o.runner.pid, o.outcome) for o in report.runners] == [(os.getpid(), "already gone")]
    assert psutil.pid_exists(os.getpid())  # a stop never signals a reused pid
    assert report.complete
    assert list_runners(runs) == []


def test_hold_refuses_until_cleared_or_expired(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    refuse_if_stopped(runs)  # no hold: nothing raised
    place_hold(runs, until=None)
    with pytest.raises(EmergencyStopActive, match=r"gameday stop --clear"):
        refuse_if_stopped(runs)
    assert clear_hold(runs) is not None
    refuse_if_stopped(runs)

    place_hold(runs, until=time.time() - 1)
    assert current_hold(runs) is None
    (runs / ".emergency-stop").write_text("{not json")
    with pytest.raises(EmergencyStopActive):
        refuse_if_stopped(runs)  # a damaged hold still holds


def test_run_experiment_under_a_hold_starts_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path, marker = _experiment(tmp_path, "held", pause_s=0.1)
    place_hold(runs, until=time.time() + 600)

    result = run_experiment(path, RunOptions(runs_dir=runs))

    assert (result.verdict, result.exit_code, result.run_dir) == ("could_not_run", 4, None)
    assert "emergency stop holds" in result.reason
    assert not marker.exists()
    assert sorted(p.name for p in runs.iterdir()) == [".emergency-stop"]
