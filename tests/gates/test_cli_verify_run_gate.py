"""`gameday verify` and the CI gate of `gameday run`, with the engine's run replaced by
constructed run folders (the real engine runs in test_end_to_end.py, marked slow)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from chaos.cli import gates as gates_cli
from chaos.cli import verify as verify_cli
from chaos.cli.main import app
from chaos.engine import RunResult
from chaos.gates import Margin, index_path

from .conftest import write_run_folder

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    for console in (gates_cli.console, verify_cli.console):
        monkeypatch.setattr(console, "width", 200)


def scripted_execute(tmp_path: Path, verdicts: list[str]):
    calls = []

    def execute(file, vars, var_files, target, dry_run, runs_dir, live):
        verdict = verdicts[len(calls)]
        calls.append({"file": file, "vars": vars, "target": target})
        code = {"held": 0, "deviated": 1}[verdict]
        run_dir = write_run_folder(runs_dir / f"run-{len(calls)}", verdict=verdict, exit_code=code)
        return RunResult(verdict=verdict, exit_code=code, reason="", title="t", run_dir=run_dir)

    return execute, calls


def test_verify_3_of_3(tmp_path, monkeypatch):
    execute, calls = scripted_execute(tmp_path, ["held"] * 3)
    monkeypatch.setattr(verify_cli, "execute", execute)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    runs = tmp_path / "runs"
    result = runner.invoke(
        app,
        ["verify", "x.yaml", "--repeat", "3", "--runs-dir", str(runs), "--var", "users:int=5"],
    )
    assert result.exit_code == 0, result.output
    assert "3/3 held (100%): the fix holds" in result.output
    assert len(calls) == 3 and calls[0]["vars"] == {"users": 5}
    assert len(index_path(runs).read_text().splitlines()) == 3
    assert "✅ 3/3 held" in summary.read_text()


def test_verify_flaky_exits_1(tmp_path, monkeypatch):
    execute, _ = scripted_execute(tmp_path, ["held", "deviated", "held"])
    monkeypatch.setattr(verify_cli, "execute", execute)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    args = ["verify", "x.yaml", "-n", "3"]
    result = runner.invoke(app, [*args, "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1, result.output
    assert "flaky: 2/3 held (67%)" in result.output
    execute, _ = scripted_execute(tmp_path, ["held", "deviated", "held"])
    monkeypatch.setattr(verify_cli, "execute", execute)
    result = runner.invoke(
        app, [*args, "--runs-dir", str(tmp_path / "runs2"), "--min-pass-rate", "60%"]
    )
    assert result.exit_code == 0, result.output


def fake_result(run_dir: Path) -> RunResult:
    summary = json.loads((run_dir / "summary.json").read_text())
    return RunResult(
        verdict=summary["verdict"],
        exit_code=summary["exit_code"],
        reason="",
        title=summary["title"],
        run_dir=run_dir,
    )


def test_run_gate_turns_a_regression_into_exit_1(make_run, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    runs = tmp_path / "runs"
    baseline = make_run("base", fault_p95_ms=800.0)
    slower = make_run("slow", fault_p95_ms=1600.0)
    gate = gates_cli.RunGate.from_options(None, baseline, 0.25)
    assert gate.margin == Margin(relative=0.25)
    assert gate.finish(fake_result(slower), Path("experiments/p.yaml"), runs) == 1
    same = make_run("same", fault_p95_ms=820.0)
    assert gate.finish(fake_result(same), Path("experiments/p.yaml"), runs) == 0
    assert len(index_path(runs).read_text().splitlines()) == 2


def test_run_gate_rejects_a_bad_baseline_before_the_run(tmp_path):
    import typer

    with pytest.raises(typer.Exit) as exit_info:
        gates_cli.RunGate.from_options(None, tmp_path / "missing", 0.2)
    assert exit_info.value.exit_code == 2


def test_run_command_checks_baseline_first(tmp_path):
    result = runner.invoke(
        app, ["run", "experiments/payments-latency.yaml", "--baseline", str(tmp_path / "nope")]
    )
    assert result.exit_code == 2
    assert "invalid --baseline" in result.output
    assert (
        not (Path("runs") / "index.jsonl").exists()
        or "nope" not in (Path("runs") / "index.jsonl").read_text()
    )


def test_run_gate_writes_junit(make_run, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    run = make_run("a", failing_checks_until=12.0)
    junit = tmp_path / "reports" / "a.xml"
    gate = gates_cli.RunGate.from_options(junit, None, 0.2)
    assert gate.finish(fake_result(run), Path("experiments/p.yaml"), tmp_path / "runs") == 0
    root = ElementTree.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) >= 20  # at least one per hypothesis check in the run folder
    assert len(root.findall(".//testcase/failure")) == 2  # the checks at 10.5 and 11.5
