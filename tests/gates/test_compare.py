from __future__ import annotations

import json

import pytest

from chaos.gates import Margin, RunFolderError, compare, read_run_metrics
from chaos.gates.step_summary import render_run_summary


def test_metrics_from_run_folder(make_run):
    run = make_run("a", fault_p95_ms=800.0, failing_checks_until=14.0)
    metrics = read_run_metrics(run)
    assert metrics.p95_under_fault_ms == 800.0
    assert metrics.p95_source == "per_second_median"
    assert metrics.requests_under_fault == 10 * 50
    assert metrics.error_rate_under_fault == pytest.approx(0.1)
    # checks fail at offsets 10.5..13.5, first pass at 14.5, fault ends at 20: recovered
    # during the fault, so no time after the fault's end was needed.
    assert metrics.time_to_impact_s == pytest.approx(0.5)
    assert metrics.time_to_recover_s == 0.0
    assert metrics.recovered is True


def test_p95_from_raw_samples_is_exact_over_the_fault_window(make_run):
    metrics = read_run_metrics(make_run("a", fault_p95_ms=700.0, raw_samples=True))
    assert metrics.p95_source == "raw_samples"
    assert metrics.p95_under_fault_ms == 700.0
    assert metrics.requests_under_fault == 10 * 50
    assert metrics.error_rate_under_fault == pytest.approx(0.1)


def test_raw_sample_regression_fails_and_unchanged_passes(make_run):
    a = make_run("a", fault_p95_ms=700.0, raw_samples=True)
    same = make_run("b", fault_p95_ms=710.0, raw_samples=True)
    slower = make_run("c", fault_p95_ms=1400.0, raw_samples=True)
    assert not compare(a, same).regressed
    (regression,) = compare(a, slower).regressions
    assert (regression.baseline, regression.candidate) == (700.0, 1400.0)


def test_time_to_recover_counts_from_fault_end(make_run):
    run = make_run("a", failing_checks_until=24.0)
    metrics = read_run_metrics(run)
    # last failure at 23.5, first pass after it at 24.5; fault ended at 20
    assert metrics.time_to_recover_s == pytest.approx(4.5)


def test_never_recovered(make_run):
    metrics = read_run_metrics(make_run("a", failing_checks_until=11.0, recovers=False))
    assert metrics.recovered is False
    assert metrics.time_to_recover_s is None


def test_unchanged_run_passes(make_run):
    a = make_run("a", fault_p95_ms=800.0, failing_checks_until=22.0)
    b = make_run("b", fault_p95_ms=820.0, failing_checks_until=22.0)
    comparison = compare(a, b, Margin(relative=0.2))
    assert not comparison.regressed
    assert comparison.same_experiment
    assert [d.status for d in comparison.deltas] == ["ok", "ok"]


def test_p95_regression_beyond_margin_fails(make_run):
    a = make_run("a", fault_p95_ms=800.0)
    b = make_run("b", fault_p95_ms=1200.0)
    comparison = compare(a, b, 0.2)
    assert comparison.regressed
    (regression,) = comparison.regressions
    assert regression.name == "p95 under fault"
    assert regression.delta == pytest.approx(400.0)
    assert regression.relative == pytest.approx(0.5)
    # the same change is within a 60% margin
    assert not compare(a, b, 0.6).regressed


def test_small_absolute_changes_never_fail(make_run):
    a = make_run("a", fault_p95_ms=4.0)
    b = make_run("b", fault_p95_ms=8.0)  # +100%, but only 4 ms
    assert not compare(a, b, Margin(relative=0.2, p95_floor_ms=10.0)).regressed


def test_recovery_regression_fails(make_run):
    a = make_run("a", failing_checks_until=21.0)
    b = make_run("b", failing_checks_until=27.0)
    comparison = compare(a, b, 0.2)
    assert [d.name for d in comparison.regressions] == ["time to recover"]
    never = make_run("c", failing_checks_until=11.0, recovers=False)
    (regression,) = compare(a, never).regressions
    assert regression.note == "the candidate never recovered"


def test_improvement_is_not_a_regression(make_run):
    a = make_run("a", fault_p95_ms=1200.0)
    b = make_run("b", fault_p95_ms=300.0)
    comparison = compare(a, b)
    assert not comparison.regressed
    assert comparison.deltas[0].status == "improved"


def test_different_experiment_is_flagged(make_run):
    a = make_run("a")
    b = make_run("b", slug="catalog-kill", title="Catalog kill")
    assert not compare(a, b).same_experiment


def test_missing_summary_is_a_located_error(tmp_path):
    with pytest.raises(RunFolderError, match="summary.json"):
        read_run_metrics(tmp_path)


def test_corrupt_timeline_line_names_the_line(make_run):
    run = make_run("a")
    timeline = run / "timeline.jsonl"
    lines = timeline.read_text().splitlines()
    lines.insert(1, "{not json")
    timeline.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunFolderError, match="line 2"):
        read_run_metrics(run)


def test_torn_last_line_is_ignored(make_run):
    run = make_run("a")
    with (run / "load" / "stream.jsonl").open("a") as handle:
        handle.write('{"ts": 18000')
    assert read_run_metrics(run).p95_under_fault_ms == 850.0


def test_fault_without_end_runs_to_last_measured_second(make_run):
    run = make_run("a", fault_p95_ms=900.0)
    timeline = run / "timeline.jsonl"
    events = [json.loads(line) for line in timeline.read_text().splitlines()]
    events = [e for e in events if not (e["kind"] == "fault" and e["edge"] == "end")]
    timeline.write_text("".join(json.dumps(e) + "\n" for e in events))
    metrics = read_run_metrics(run)
    assert metrics.time_to_recover_s is None
    assert metrics.requests_under_fault == 20 * 50  # seconds 10..29
    # 10 seconds at 900 ms and 10 at 40 ms, equal weights: the median is the lower middle
    assert metrics.p95_under_fault_ms == 40.0


def test_step_summary_shows_regression(make_run):
    a = make_run("a", fault_p95_ms=800.0)
    b = make_run("b", fault_p95_ms=1200.0, verdict="deviated", exit_code=1)
    markdown = render_run_summary(read_run_metrics(b), compare(a, b))
    assert "❌ Payments latency: deviated" in markdown
    assert "| p95 under fault | 800.0 ms | 1200.0 ms | +400.0 ms (+50%) | regressed |" in markdown
    assert "Exit code 1 (deviated)" in markdown


def test_gate_run_fails_a_held_run_that_regressed(make_run, tmp_path, monkeypatch):
    from chaos.gates.ci import gate_run

    summary_file = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    baseline = make_run("a", fault_p95_ms=800.0)
    slower = make_run("b", fault_p95_ms=2000.0)
    outcome = gate_run(slower, "experiments/p.yaml", 0, baseline=baseline)
    assert outcome.exit_code == 1
    assert outcome.comparison is not None and outcome.comparison.regressed
    assert outcome.step_summary == summary_file
    assert "| p95 under fault | 800.0 ms | 2000.0 ms |" in summary_file.read_text()
    assert outcome.history.run_dir == str(slower)

    unchanged = make_run("c", fault_p95_ms=805.0)
    outcome = gate_run(unchanged, "experiments/p.yaml", 0, baseline=baseline)
    assert outcome.exit_code == 0
    # a run that already deviated keeps its own exit code
    deviated = make_run("d", fault_p95_ms=2000.0, verdict="deviated", exit_code=1)
    assert gate_run(deviated, "experiments/p.yaml", 1, baseline=baseline).exit_code == 1
    assert summary_file.read_text().count("### ") == 3


def test_gate_run_without_ci_writes_no_summary(make_run, monkeypatch):
    from chaos.gates.ci import gate_run

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    outcome = gate_run(make_run("a"), "experiments/p.yaml", 0)
    assert outcome.step_summary is None
    assert outcome.comparison is None


def test_instantaneous_fault_has_no_window(make_run):
    run = make_run("a", fault_start=10.0, fault_end=10.0, raw_samples=True)
    metrics = read_run_metrics(run)
    assert (metrics.p95_under_fault_ms, metrics.p95_source) == (None, "none")
    assert metrics.requests_under_fault == 0
