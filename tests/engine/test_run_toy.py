"""Whole runs in-process with toy providers (no mesh, no load): verdicts, run folder,
timeline, ledger, guardrail abort, dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.engine import RunOptions, run_experiment
from chaos.experiment import ExperimentError
from chaos.safety.ledger import Ledger
from chaos.safety.rollback import rollback_outstanding


def _run(path: Path, tmp_path: Path, **options):
    return run_experiment(path, RunOptions(runs_dir=tmp_path / "runs", **options))


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]


def _phases(run_dir: Path) -> list[str]:
    return [e["name"] for e in _events(run_dir) if e["kind"] == "phase" and e["edge"] == "start"]


def test_held_run_writes_the_run_folder_and_rolls_back(toy, marker: Path, tmp_path: Path) -> None:
    result = _run(toy(hypothesis="constant"), tmp_path)
    assert (result.verdict, result.exit_code) == ("held", 0)
    assert not marker.exists()
    run_dir = result.run_dir
    for name in ("experiment.json", "journal.json", "timeline.jsonl", "ledger.jsonl"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "held" and summary["exit_code"] == 0
    assert _phases(run_dir) == ["steady_state_before", "method", "steady_state_after", "rollbacks"]
    events = _events(run_dir)
    faults = [e for e in events if e["kind"] == "fault"]
    assert [f["edge"] for f in faults] == ["start", "end"]
    method_start = next(e["ts"] for e in events if e.get("name") == "method")
    # The fault is stamped when applied, not after its 1 s pause.
    assert faults[0]["ts"] - method_start < 0.9
    assert faults[1]["ts"] - faults[0]["ts"] >= 0.9
    checks = [e for e in events if e["kind"] == "check"]
    assert {c["phase"] for c in checks} == {"steady_state_before", "method", "steady_state_after"}
    assert all(c["ok"] for c in checks)
    assert [e.status for e in Ledger(run_dir / "ledger.jsonl").entries()] == ["undone"]
    assert any(e["kind"] == "rollback" and e["id"] == "toy-undo" and e["ok"] for e in events)


def test_deviation_during_the_method_exits_1(toy, marker: Path, tmp_path: Path) -> None:
    result = _run(toy(hypothesis="marker_absent"), tmp_path)
    assert (result.verdict, result.exit_code) == ("deviated", 1)
    failed = [e for e in _events(result.run_dir) if e["kind"] == "check" and not e["ok"]]
    assert failed and all(e["phase"] == "method" for e in failed)
    assert not marker.exists()


def test_steady_state_not_met_before_is_could_not_run_and_injects_nothing(
    toy, marker: Path, tmp_path: Path
) -> None:
    marker.write_text("already there")
    result = _run(toy(hypothesis="marker_absent"), tmp_path)
    assert (result.verdict, result.exit_code) == ("could_not_run", 4)
    assert "before any fault" in result.reason
    assert Ledger(result.run_dir / "ledger.jsonl").entries() == []


def test_a_fault_that_fails_is_could_not_run(toy, tmp_path: Path, marker: Path) -> None:
    path = toy(action="fail")
    path.write_text(
        path.read_text().replace(f"arguments: {{path: {marker}}}\n    pauses", "pauses")
    )
    result = _run(path, tmp_path)
    assert result.exit_code == 4, result.reason


def test_guardrail_aborts_and_rolls_back(toy, marker: Path, tmp_path: Path) -> None:
    path = toy(
        pause_s=20,
        extra="guardrails:\n  - {name: storm, metric: error_rate, above: 0.5, for_s: 2}",
    )
    text = path.read_text().replace(
        "method:\n",
        "method:\n  - type: action\n    name: errors\n    provider: {type: python, "
        "module: toy_providers, func: write_stream, arguments: {error_rate: 0.9, seconds: 3}}\n",
    )
    path.write_text(text)
    result = _run(path, tmp_path)
    assert (result.verdict, result.exit_code) == ("aborted", 3)
    assert "storm" in result.reason
    assert not marker.exists()
    kinds = [e["kind"] for e in _events(result.run_dir)]
    assert "guardrail" in kinds and "abort" in kinds
    assert "rollbacks" in _phases(result.run_dir)
    # Aborted long before the 20 s pause ran out.
    ts = [e["ts"] for e in _events(result.run_dir)]
    assert ts[-1] - ts[0] < 15


def test_target_mesh_without_a_running_mesh_could_not_run(
    toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAMEDAY_MESH_STATE", str(tmp_path / "no-mesh.json"))
    result = _run(toy(), tmp_path, target="mesh")
    assert (result.verdict, result.exit_code) == ("could_not_run", 4)
    assert "mesh" in result.reason


def test_bad_target_option_is_invalid_input(toy, tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match="--target"):
        _run(toy(), tmp_path, target="moon")


def test_dry_run_touches_nothing(toy, marker: Path, tmp_path: Path) -> None:
    result = _run(toy(), tmp_path, dry_run=True)
    assert result.exit_code == 0 and result.run_dir is None
    assert not (tmp_path / "runs").exists()
    assert not marker.exists()
    plan = result.plan
    assert [step.name for step in plan.steps] == ["toy-fault", "toy-undo"]
    assert plan.steps[0].pause_after_s == 1.0


def test_rollback_outstanding_undoes_what_a_ledger_left(marker: Path, tmp_path: Path) -> None:
    import toy_providers

    ledger_path = tmp_path / "ledger.jsonl"
    toy_providers.set_marker(str(marker), configuration={"gameday_ledger": str(ledger_path)})
    assert marker.exists()
    report = rollback_outstanding([ledger_path])
    assert report.ok and len(report.undone) == 1
    assert not marker.exists()
    assert rollback_outstanding([ledger_path]).undone == []


def test_load_host_without_scheme_is_invalid_input_before_anything_starts(
    toy, tmp_path: Path
) -> None:
    path = toy(extra="load: {host: '127.0.0.1:8000'}")
    text = path.read_text().replace("load: false\n", "")
    path.write_text(text)
    with pytest.raises(ExperimentError) as raised:
        _run(path, tmp_path)
    [issue] = raised.value.issues
    assert issue.field == "load.host" and issue.line is not None
    assert "http://" in issue.message
    assert not (tmp_path / "runs").exists()
