"""A runs folder that cannot hold a run is a located error before anything starts; a run
folder that fills up mid-run still rolls back, and says which file it could not write."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.engine import RunOptions, run_experiment
from chaos.safety.ledger import Ledger
from chaos.targets.launcher.state import MeshState, ReplicaState, ServiceState, write_state

PROVIDERS = """
from pathlib import Path


def payload(size: int) -> str:
    return "x" * size


def break_timeline(configuration: dict | None = None) -> bool:
    # The timeline stops taking lines mid-run, as on a full disk.
    timeline = Path(configuration["gameday_run_dir"]) / "timeline.jsonl"
    timeline.unlink()
    timeline.mkdir()
    return True


def garble_ledger(configuration: dict | None = None) -> bool:
    # A disk hiccup in the middle of the run's own ledger.
    with open(configuration["gameday_ledger"], "ab") as ledger:
        ledger.write(b"\\x00\\x00 not a ledger line\\n")
    return True
"""


def _experiment(tmp_path: Path, marker: Path, extra_method: str = "") -> Path:
    (tmp_path / "runs_folder_providers.py").write_text(PROVIDERS)
    path = tmp_path / "toy.yaml"
    path.write_text(
        f"""\
title: toy runs folder
description: an engine test
target: none
load: false
hypothesis_frequency_s: 0.3
steady-state-hypothesis:
  title: toy hypothesis
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
      arguments: {{path: {marker}}}
{extra_method}
"""
    )
    return path


BIG_OUTPUT = """\
  - type: probe
    name: big-output
    provider:
      type: python
      module: runs_folder_providers
      func: payload
      arguments: {size: 300000}
"""

BREAK_TIMELINE = """\
  - type: action
    name: break-timeline
    provider: {type: python, module: runs_folder_providers, func: break_timeline}
"""

GARBLE = """\
  - type: action
    name: garble
    provider: {type: python, module: runs_folder_providers, func: garble_ledger}
"""


def _gameday_run(
    gameday: Path, experiment: Path, runs_dir: Path, file_size_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limit_file_size() -> None:
        # A file that reaches the limit fails to grow like one on a full disk (EFBIG
        # instead of ENOSPC) rather than killing the process with SIGXFSZ.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(experiment.parent), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [str(gameday), "run", str(experiment), "--no-live", "--runs-dir", str(runs_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        preexec_fn=limit_file_size if file_size_limit else None,
    )


def _one_paragraph_without_traceback(result: subprocess.CompletedProcess[str]) -> str:
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    return text


def test_runs_folder_that_is_a_file_stops_before_anything_starts(
    gameday: Path, tmp_path: Path, marker: Path
) -> None:
    runs = tmp_path / "runs"
    runs.write_text("a file where the runs folder should be")
    result = _gameday_run(gameday, _experiment(tmp_path, marker), runs)
    assert result.returncode == 4
    text = _one_paragraph_without_traceback(result)
    assert f"the runs folder {runs} cannot hold a run: it is a file, not a folder" in text
    assert "nothing was started" in text
    assert not marker.exists()


def test_runs_folder_that_cannot_be_created_is_named(tmp_path: Path, marker: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    runs = blocker / "runs"
    result = run_experiment(_experiment(tmp_path, marker), RunOptions(runs_dir=runs))
    assert (result.verdict, result.exit_code, result.run_dir) == ("could_not_run", 4, None)
    assert f"the runs folder {runs} cannot hold a run: it cannot be created" in result.reason
    assert "Not a directory" in result.reason
    assert not marker.exists()


def test_full_disk_before_the_run_stops_before_anything_starts(
    gameday: Path, tmp_path: Path, marker: Path
) -> None:
    runs = tmp_path / "runs"
    result = _gameday_run(gameday, _experiment(tmp_path, marker), runs, file_size_limit=8192)
    assert result.returncode == 4
    text = _one_paragraph_without_traceback(result)
    assert f"the runs folder {runs} cannot hold a run: files in it cannot grow" in text
    assert list(runs.iterdir()) == []  # neither a run folder nor the write check is left
    assert not marker.exists()


@pytest.mark.slow
def test_disk_full_mid_run_rolls_back_and_names_the_file(
    gameday: Path, tmp_path: Path, marker: Path
) -> None:
    runs = tmp_path / "runs"
    experiment = _experiment(tmp_path, marker, BIG_OUTPUT)
    # Room for the write check and every file but the journal holding the 300 kB output.
    result = _gameday_run(gameday, experiment, runs, file_size_limit=200_000)
    assert result.returncode == 4, result.stdout + result.stderr
    text = _one_paragraph_without_traceback(result)
    [run_dir] = [path for path in runs.iterdir() if path.is_dir()]
    assert f"cannot write {run_dir / 'journal.json'}: File too large" in text
    assert not marker.exists()
    assert [e.status for e in Ledger(run_dir / "ledger.jsonl").entries()] == ["undone"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["verdict"], summary["exit_code"]) == ("could_not_run", 4)


def test_final_sweep_undoes_the_faults_and_names_an_unreadable_ledger_line(
    tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    experiment = _experiment(tmp_path, marker, GARBLE)
    result = run_experiment(experiment, RunOptions(runs_dir=tmp_path / "runs"))
    assert not marker.exists()
    ledger = result.run_dir / "ledger.jsonl"
    assert [e.status for e in Ledger(ledger).entries()] == ["undone"]
    assert f"unreadable ledger line(s) {ledger}:3 may record a fault still applied" in (
        result.reason
    )
    events = [json.loads(line) for line in (result.run_dir / "timeline.jsonl").open()]
    [flagged] = [e for e in events if e["kind"] == "rollback" and e["id"] == "line:3"]
    assert flagged["ok"] is False and flagged["source"] == "ledger"


REPO = Path(__file__).resolve().parents[2]


def test_game_day_with_an_unusable_runs_folder_starts_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.write_text("a file where the runs folder should be")
    plan = REPO / "gamedays" / "shop-checkout.yaml"
    result = CliRunner().invoke(app, ["play", str(plan), "--runs-dir", str(runs)])
    assert result.exit_code == 4, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert f"the runs folder {runs} cannot hold a run: it is a file" in said
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_monkey_with_an_unusable_runs_folder_kills_nothing(tmp_path: Path) -> None:
    replica = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        state = tmp_path / "mesh.json"
        write_state(
            state,
            MeshState(
                owner_pid=os.getpid(),
                owner_create_time=psutil.Process().create_time(),
                started_at=datetime.now(UTC),
                state_dir=str(tmp_path),
                topology="topology.yaml",
                proxy_api="http://127.0.0.1:1",
                gateway_url="http://127.0.0.1:2",
                services={
                    "catalog": ServiceState(
                        address="127.0.0.1:3",
                        replicas=[ReplicaState(index=0, pid=replica.pid, port=20000)],
                    )
                },
            ),
        )
        runs = tmp_path / "blocker" / "runs"
        (tmp_path / "blocker").write_text("")
        result = CliRunner().invoke(
            app,
            [
                "monkey", "--service", "catalog", "--window", "always", "--mean-interval",
                "0.05s", "--budget", "1", "--min-alive", "0", "--mesh-state", str(state),
                "--runs-dir", str(runs),
            ],
        )  # fmt: skip
        assert result.exit_code == 4, result.output
        said = " ".join(result.output.split())  # the console wraps long lines
        assert f"the runs folder {runs} cannot hold a run: it cannot be created" in said
        assert replica.poll() is None  # not killed
    finally:
        replica.kill()
        replica.wait(timeout=10)


def test_a_history_index_that_cannot_be_written_is_named_after_the_run(
    tmp_path: Path, marker: Path
) -> None:
    runs = tmp_path / "runs"
    (runs / "index.jsonl").mkdir(parents=True)  # not a file: appending fails like a full disk
    experiment = _experiment(tmp_path, marker)
    result = CliRunner().invoke(app, ["run", str(experiment), "--no-live", "--runs-dir", str(runs)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"run history not updated: {runs / 'index.jsonl'}: cannot append the run" in said
    assert not marker.exists()


def test_verify_with_an_unusable_runs_folder_starts_nothing(tmp_path: Path, marker: Path) -> None:
    runs = tmp_path / "runs"
    runs.write_text("a file where the runs folder should be")
    experiment = _experiment(tmp_path, marker)
    result = CliRunner().invoke(
        app, ["verify", str(experiment), "-n", "2", "--no-live", "--runs-dir", str(runs)]
    )
    assert result.exit_code == 4, result.output
    said = " ".join(result.output.split())
    assert f"the runs folder {runs} cannot hold a run: it is a file" in said
    assert "held" not in said  # no run was attempted
    assert not marker.exists()


def test_timeline_that_stops_taking_lines_mid_run_still_rolls_back_and_names_it(
    tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    experiment = _experiment(tmp_path, marker, BREAK_TIMELINE)
    result = run_experiment(experiment, RunOptions(runs_dir=tmp_path / "runs"))
    assert (result.verdict, result.exit_code) == ("could_not_run", 4)
    assert result.reason.startswith(f"cannot write {result.run_dir / 'timeline.jsonl'}: ")
    assert not marker.exists()
    assert [e.status for e in Ledger(result.run_dir / "ledger.jsonl").entries()] == ["undone"]


def test_a_game_day_whose_timeline_stops_taking_lines_could_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the game day's own bookkeeping runs: the target, load and engine are replaced."""
    import contextlib

    from chaos.engine import RunResult
    from chaos.engine.target import PreparedTarget
    from chaos.gameday import runner
    from chaos.gameday.plan import load_plan

    runs = tmp_path / "runs"

    def run_experiment(path: Path, options: object) -> RunResult:
        return RunResult(verdict="held", exit_code=0, reason="", title="t", run_dir=None)

    class Load:
        def __init__(self, spec: object) -> None: ...

        def start(self) -> None: ...

        def wait_ready(self, timeout: float) -> None: ...

        def stop(self) -> None: ...

    class DiskFillsUp:
        def say(self, text: str) -> None:
            if text.startswith("Step 1 of"):
                [folder] = runs.glob("*-gameday-full-disk")
                (folder / "timeline.jsonl").unlink()
                (folder / "timeline.jsonl").mkdir()

        def wait_for_enter(self, prompt: str) -> None: ...

        def watching(self) -> contextlib.nullcontext[None]:
            return contextlib.nullcontext()

        def sleep(self, seconds: float, label: str) -> None: ...

    monkeypatch.setattr(runner, "run_experiment", run_experiment)
    monkeypatch.setattr(runner, "LoadRunner", Load)
    monkeypatch.setattr(
        runner,
        "prepare_target",
        lambda target, run_dir: PreparedTarget(kind="mesh", gateway_url="http://127.0.0.1:9"),
    )
    plan = tmp_path / "plan.yaml"
    experiment = REPO / "experiments" / "payments-latency.yaml"
    plan.write_text(
        f"title: full disk\ntarget: {{kind: mesh}}\nsteps:\n  - experiment: {experiment}\n"
    )
    result = runner.play(load_plan(plan), runner.PlayOptions(runs_dir=runs), DiskFillsUp())
    assert (result.verdict, result.exit_code) == ("could_not_run", 4)
    assert f"cannot write {result.gameday_dir / 'timeline.jsonl'}" in (result.reason or "")
