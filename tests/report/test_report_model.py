"""The report model against the run folder it was built from."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from chaos.load import StreamReader
from chaos.report import ReportError, build_report


def _phase(report, name):
    return next(row for row in report.phases if row.name == name)


def test_phase_table_comes_from_every_sample_of_each_window(
    make_run: Callable[..., Path], timing: SimpleNamespace
):
    T0, FAULT = timing.t0, timing.fault
    run = make_run(verdict="deviated", exit_code=1, fault_errors=True)
    report = build_report(run)

    assert [row.name for row in report.phases] == ["baseline", "during_fault", "recovery", "after"]
    during = _phase(report, "during_fault")
    assert (during.start, during.end) == (T0 + FAULT[0], T0 + FAULT[1])
    # 20 requests a second for 15 s, every fourth one failed, all 400 ms slower.
    assert during.requests == 300
    assert during.failures == 75
    assert during.error_rate == pytest.approx(0.25)
    assert during.rps == pytest.approx(20.0)
    assert during.p50 is not None and 420 <= during.p50 <= during.p95 <= during.p99 <= 439
    assert during.source == "raw samples"
    baseline = _phase(report, "baseline")
    assert (baseline.start_offset_s, baseline.end_offset_s) == (3.0, 8.0)
    assert baseline.error_rate == 0.0 and baseline.p99 is not None and baseline.p99 < 40
    # The same numbers the load runner's own reader gives for the same window.
    direct = StreamReader(run / "load").window(during.start, during.end)
    assert (during.p95, during.p99) == (direct.p95, direct.p99)

    # Whole-second windows agree with the per-second stream the load runner wrote.
    stream = [json.loads(line) for line in (run / "load" / "stream.jsonl").read_text().splitlines()]
    in_baseline = [s for s in stream if baseline.start <= s["ts"] < baseline.end]
    assert baseline.requests == sum(s["requests"] for s in in_baseline) == 100


def test_without_raw_samples_the_stream_is_summed_and_says_so(make_run: Callable[..., Path]):
    run = make_run(fault_errors=True, with_samples=False)
    report = build_report(run)
    during = _phase(report, "during_fault")
    # Seconds 8..23 overlap [8.5, 23.5): 16 seconds of 20 requests.
    assert during.requests == 320
    assert during.source == "stream.jsonl"
    assert not report.raw_samples


def test_verdict_faults_checks_and_recovery_of_a_deviating_run(
    make_run: Callable[..., Path], timing: SimpleNamespace
):
    T0, FAULT = timing.t0, timing.fault
    report = build_report(make_run(verdict="deviated", exit_code=1, fault_errors=True))

    assert (report.verdict.verdict, report.verdict.exit_code) == ("deviated", 1)
    assert "not met" in report.verdict.meaning
    [fault] = report.faults
    assert (fault.start_offset_s, fault.end_offset_s) == FAULT
    assert fault.applied_at == T0 + FAULT[0] and fault.rolled_back_offset_s == FAULT[1]
    assert fault.status == "undone" and fault.target == "orders->payments"

    rate = next(p for p in report.probes if p.name == "checkout-error-rate")
    assert rate.tolerance == "within [0.0, 0.05]"
    assert len(rate.values) == 17 and rate.failures == 15
    assert [v.phase for v in rate.values][:2] == ["steady_state_before", "method"]
    # First failing check 9.0 s, fault start 8.5 s; last failure at 23.0 s, next pass at
    # 26.7 s, fault end 23.5 s.
    assert report.recovery.time_to_impact_s == pytest.approx(0.5)
    assert report.recovery.time_to_recover_s == pytest.approx(3.2)
    assert report.recovery.recovered is True

    [invariant] = report.invariants
    assert invariant.name == "no-order-lost-or-charged-twice" and invariant.ok
    [note] = report.notes
    assert (note.number, note.offset_s, note.author) == (1, 12.0, "observer")


def test_a_holding_run_has_no_impact_and_recovers_at_once(make_run: Callable[..., Path]):
    report = build_report(make_run())
    assert report.verdict.passed
    assert report.recovery.time_to_impact_s is None
    assert report.recovery.time_to_recover_s == 0.0
    assert report.failed_check_count == 0 and report.check_count == 19


def test_an_aborted_run_lists_guardrail_and_abort(
    make_run: Callable[..., Path], timing: SimpleNamespace
):
    T0 = timing.t0
    report = build_report(make_run(verdict="aborted", exit_code=3, fault_errors=True, aborted=True))
    assert report.verdict.reason == "guardrail error-rate held"
    assert [e.kind for e in report.events] == ["guardrail", "abort"]
    [fault] = report.faults
    assert fault.end_offset_s == 15.0 and fault.status == "undone"
    assert _phase(report, "during_fault").end == T0 + 15.0


def test_target_blast_radius_and_runbook(make_run: Callable[..., Path], project: Path):
    report = build_report(make_run())
    assert report.experiment.target == "local"
    assert report.experiment.blast_radius == [
        "delay-orders-to-payments: add_latency on edge=orders->payments"
    ]
    assert report.experiment.teaches.startswith("Timeouts and retries")
    runbook = report.runbook
    assert runbook is not None and runbook.found
    assert runbook.link == "../../runbooks/payments-latency.md"
    assert runbook.title == "Runbook: payments is slow"
    assert [(s.heading, s.summary) for s in runbook.sections] == [
        ("Symptoms", "Checkout p95 rises."),
        ("Mitigation", "Shorten the timeout so the breaker opens sooner."),
        ("Rollback", "`gameday rollback <run>` undoes what the ledger lists."),
    ]


def test_shared_load_outside_the_run_is_left_out(
    make_run: Callable[..., Path], timing: SimpleNamespace
):
    T0 = timing.t0
    run = make_run()
    summary = json.loads((run / "summary.json").read_text())
    summary["ended_at"] = "2027-01-15T08:00:20+00:00"
    (run / "summary.json").write_text(json.dumps(summary))
    # The run's timeline ends at +27 s, so seconds after that are another experiment's.
    report = build_report(run)
    assert max(point.offset_s for point in report.series) <= 27.0
    assert all(row.end <= T0 + 28.0 for row in report.phases)


def test_a_torn_last_line_is_skipped_and_a_bad_line_is_located(make_run: Callable[..., Path]):
    run = make_run()
    timeline = run / "timeline.jsonl"
    timeline.write_text(timeline.read_text() + '{"ts": 1, "kind"')
    build_report(run)
    timeline.write_text(
        '{"ts": 1, "kind": "note", "text": "x"}\nnot json\n{"ts": 2, "kind": "x"}\n'
    )
    with pytest.raises(ReportError, match=r"timeline.jsonl: line 2: not JSON"):
        build_report(run)


def test_a_folder_without_summary_is_an_error(tmp_path: Path):
    with pytest.raises(ReportError, match="summary.json: missing"):
        build_report(tmp_path)


def test_checks_come_from_the_journal_when_the_timeline_has_none(make_run: Callable[..., Path]):
    run = make_run()
    timeline = run / "timeline.jsonl"
    kept = [line for line in timeline.read_text().splitlines() if '"check"' not in line]
    timeline.write_text("\n".join(kept) + "\n")
    probe = {"name": "checkout-error-rate", "tolerance": {"type": "range", "range": [0, 0.05]}}
    journal = {
        "steady_states": {
            "before": {
                "probes": [
                    {
                        "activity": probe,
                        "output": 0.01,
                        "tolerance_met": True,
                        "end": "2027-01-15T08:00:08.100000",
                    }
                ]
            },
            "after": {
                "probes": [
                    {
                        "activity": probe,
                        "output": 0.2,
                        "tolerance_met": False,
                        "end": "2027-01-15T08:00:26.700000",
                    }
                ]
            },
        }
    }
    (run / "journal.json").write_text(json.dumps(journal))
    rate = next(p for p in build_report(run).probes if p.name == "checkout-error-rate")
    assert [(v.offset_s, v.phase, v.value, v.ok) for v in rate.values] == [
        (8.1, "steady_state_before", 0.01, True),
        (26.7, "steady_state_after", 0.2, False),
    ]
