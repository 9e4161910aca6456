"""Real runs against a real mesh: verify 3/3 on a stable experiment, a real baseline
comparison (unchanged passes, a regression fails `gameday run --baseline`), JUnit and the
GitHub step summary. Slow: one mesh and four short runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from chaos.gates import read_history, read_run_metrics

pytestmark = pytest.mark.slow

EXPERIMENT = Path(__file__).parent / "experiments" / "catalog-latency-short.yaml"
GAMEDAY = (
    [sys.executable, "-m", "chaos.cli.main"]
    if False
    else [str(Path(sys.executable).parent / "gameday")]
)


@pytest.fixture(scope="module")
def mesh_env(tmp_path_factory):
    from chaos.targets.launcher import start_mesh

    handle = start_mesh(state_dir=tmp_path_factory.mktemp("mesh"))
    try:
        env = {**os.environ, "GAMEDAY_MESH_STATE": str(handle.state_file)}
        env.pop("GITHUB_STEP_SUMMARY", None)
        yield env
    finally:
        handle.stop()


def gameday(env, *args, timeout=150):
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def verified(mesh_env, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    summary = runs / "step-summary.md"
    env = {**mesh_env, "GITHUB_STEP_SUMMARY": str(summary), "COLUMNS": "200"}
    done = gameday(env, "verify", str(EXPERIMENT), "--repeat", "3", "--runs-dir", str(runs),
                   "--no-live")  # fmt: skip
    return done, runs, summary


def test_verify_reports_3_of_3(verified):
    done, runs, summary = verified
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3/3 held (100%): the fix holds" in done.stdout
    entries = read_history(runs)
    assert [e.verdict for e in entries] == ["held"] * 3
    assert all(e.p95_under_fault_ms is not None for e in entries)
    assert "✅ 3/3 held" in summary.read_text()


def test_real_baseline_unchanged_passes_and_regression_fails(verified, mesh_env, tmp_path):
    done, runs, _ = verified
    assert done.returncode == 0, done.stdout + done.stderr
    first, second, _ = [Path(e.run_dir) for e in read_history(runs)]
    a, b = read_run_metrics(first), read_run_metrics(second)
    assert a.p95_source == b.p95_source == "raw_samples"
    # p95 under a 40 ms toxic: the toxic's delay shows, and nothing near the 700 ms run below
    assert 40 <= a.p95_under_fault_ms < 600
    unchanged = gameday(mesh_env, "compare", str(first), str(second), "--margin", "50%",
                        "--p95-floor-ms", "200")  # fmt: skip
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr

    summary = tmp_path / "step-summary.md"
    junit = tmp_path / "reports" / "slow.xml"
    env = {**mesh_env, "GITHUB_STEP_SUMMARY": str(summary), "COLUMNS": "200"}
    slower = gameday(env, "run", str(EXPERIMENT), "--var", "latency_ms:int=700",
                     "--baseline", str(first), "--margin", "50%", "--junit", str(junit),
                     "--runs-dir", str(runs), "--no-live")  # fmt: skip
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert "regressed against the baseline beyond 50%: p95 under fault" in slower.stdout
    newest = read_history(runs)[-1]
    assert newest.p95_under_fault_ms is not None and newest.p95_under_fault_ms >= 700
    assert newest.exit_code == 0  # the run itself held; the baseline gate failed it
    assert ElementTree.parse(junit).getroot().findall(".//testcase")
    text = summary.read_text()
    assert "| p95 under fault |" in text and "regressed" in text
    stored = json.loads((Path(newest.run_dir) / "summary.json").read_text())
    assert stored["verdict"] == "held"


def test_monkey_kills_real_replicas_and_the_supervisor_replaces_them(mesh_env, tmp_path):
    from chaos.monkey.replicas import confirm_replaced
    from chaos.safety.ledger import Ledger

    runs = tmp_path / "runs"
    done = gameday(mesh_env, "monkey", "--service", "catalog", "--window", "always",
                   "--mean-interval", "1s", "--budget", "2", "--duration", "40s",
                   "--runs-dir", str(runs), timeout=90)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "budget spent: 2 kill(s)" in done.stdout
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    entries = Ledger(run_dir / "ledger.jsonl").entries()
    assert len(entries) == 2
    for entry in entries:
        assert entry.undo.arguments["mesh_state"] == mesh_env["GAMEDAY_MESH_STATE"]
        new_pid = confirm_replaced(**entry.undo.arguments, timeout_s=30)
        assert new_pid != entry.undo.arguments["killed_pid"]
    rollback = gameday(mesh_env, "rollback", str(run_dir))
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
