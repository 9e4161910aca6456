"""A bundled experiment under the Chaos Toolkit's own `chaos run`: the gameday
control brings the load and the run folder, and the run ends with the verdict, timeline
and ledger `gameday run` gives it (payments-partition deviates; see the README's release
check), and a run that cannot start says why before any fault."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaoslib.exceptions import InterruptExecution

from chaos.engine import chaos_run
from chaos.engine.target import CouldNotRun
from chaos.experiment.models import Target
from chaos.targets.launcher import load_mesh_state
from chaos.targets.launcher.leftovers import leftover_faults, wait_until_settled

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "payments-partition.yaml"
TIMEOUT_S = 240
PHASES = [
    "warmup",
    "baseline",
    "steady_state_before",
    "method",
    "recovery",
    "steady_state_after",
    "rollbacks",
    "after",
]


def _chaos_run(experiment: Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    chaos = shutil.which("chaos", path=str(Path(sys.executable).parent))
    assert chaos, "the chaostoolkit CLI is installed beside us (dev extra)"
    process = subprocess.Popen(
        [chaos, "--no-version-check", "run", str(experiment)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # with its Locust
            process.wait(timeout=10)
    return subprocess.CompletedProcess(process.args, process.returncode, output)


def _timeline(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]


def test_without_a_running_mesh_chaos_run_stops_before_any_fault_and_says_why(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-mesh.json"
    env = {
        **os.environ,
        "GAMEDAY_MESH_STATE": str(missing),
        "GAMEDAY_TARGET": "mesh",
        "GAMEDAY_RUNS_DIR": str(tmp_path / "runs"),
    }

    result = _chaos_run(ROOT / "experiments" / "flagship.yaml", tmp_path, env)

    assert result.returncode == 1
    assert f"gameday: could not run: no running mesh (no mesh state file at {missing})" in (
        result.stdout
    )
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["verdict"], summary["exit_code"], summary["target"]) == (
        "could_not_run",
        4,
        "mesh",
    )
    assert not (run_dir / "load").exists()  # no Locust was started
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "interrupted" and not journal["run"]


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("payments-latency-prometheus", {"prometheus": True}),
        (
            "payments-latency-no-breaker",
            {
                "topology_overrides": {
                    "edges": {"orders->payments": {"circuit_breaker": {"enabled": False}}}
                }
            },
        ),
    ],
)
def test_gameday_target_local_keeps_what_the_file_says_about_its_local_mesh(
    name: str, kept: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GAMEDAY_TARGET=local over a local file is `gameday run --target local`: the mesh it
    # starts keeps its Prometheus and topology overrides (without them the Prometheus
    # experiment could not run and the breaker stayed on).
    prepared: list[Target] = []

    def prepare(target: Target, *_: Any) -> Any:
        prepared.append(target)
        raise CouldNotRun("stopped here by the test")

    monkeypatch.setattr(chaos_run, "prepare_target", prepare)
    monkeypatch.setenv("GAMEDAY_TARGET", "local")
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    experiment = yaml.safe_load((ROOT / "experiments" / f"{name}.yaml").read_text())

    with pytest.raises(InterruptExecution, match="stopped here by the test"):
        chaos_run.before_experiment_control(context=experiment, configuration={})
    chaos_run.after_experiment_control(context=experiment, state=None)

    (target,) = prepared
    assert target.kind == "local"
    for key, value in kept.items():
        assert getattr(target, key) == value


@pytest.mark.slow
def test_chaos_run_gives_the_gameday_verdict_timeline_and_ledger(
    gameday_mesh: Any, tmp_path: Path
) -> None:
    state = load_mesh_state(gameday_mesh.state_file)
    wait_until_settled(state)
    runs = tmp_path / "runs"
    env = {
        **os.environ,
        "GAMEDAY_MESH_STATE": str(gameday_mesh.state_file),
        "GAMEDAY_TARGET": "mesh",
        "GAMEDAY_RUNS_DIR": str(runs),
    }

    result = _chaos_run(EXPERIMENT, tmp_path, env)

    # The Chaos Toolkit's own exit code follows the deviation during the method.
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Traceback" not in result.stdout
    (run_dir,) = [path for path in runs.iterdir() if path.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["verdict"], summary["exit_code"], summary["target"]) == (
        "deviated",
        1,
        "mesh",
    )
    assert "during the method" in summary["reason"]
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["deviated"] is True and journal["steady_states"]["before"]["steady_state_met"]
    events = _timeline(run_dir)
    starts = [e["name"] for e in events if e["kind"] == "phase" and e["edge"] == "start"]
    assert starts == PHASES
    faults = [e for e in events if e["kind"] == "fault"]
    assert [f["edge"] for f in faults] == ["start", "end"]
    assert "orders->payments" in faults[0]["target"]
    failed = [e for e in events if e["kind"] == "check" and not e["ok"]]
    assert failed and all(faults[0]["ts"] <= e["ts"] for e in failed)
    ledger = [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]
    assert [e["status"] for e in ledger] == ["intent", "applied", "undone"]
    stream = (run_dir / "load" / "stream.jsonl").read_text().splitlines()
    assert len(stream) >= 20  # warm-up, baseline, method, recovery and the after tail
    assert not leftover_faults(load_mesh_state(gameday_mesh.state_file))
