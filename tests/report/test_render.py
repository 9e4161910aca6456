"""Markdown, HTML and JUnit renderings of a run folder, and `gameday report`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.report import build_report, write_reports
from chaos.report.chart import fault_spans, render_svg

SVG = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_html_is_one_self_contained_page_with_the_chart(
    make_run: Callable[..., Path], project: Path, html_checker: Callable
):
    run = make_run(verdict="deviated", exit_code=1, fault_errors=True)
    [html_path] = write_reports(run, ["html"])
    text, svgs = html_checker(html_path.read_text())

    assert "DEVIATED Exit code 1: the steady-state hypothesis was not met" in text
    assert "What this teaches: Timeouts and retries" in text
    assert "time to impact 0.5 s" in text and "time to recover 3.2 s" in text
    # The phase table shows the report model's numbers.
    report = build_report(run)
    during = next(row for row in report.phases if row.name == "during_fault")
    assert f"during fault +8.5 s → +23.5 s {during.requests} 20.0 25.00 %" in text
    assert "N1 +12.0 s" in text and "checkout spinner visible" in text
    assert "Observations and action items" in text
    html = html_path.read_text()
    assert 'href="../../runbooks/payments-latency.md"' in html
    # Runbook prose keeps its code spans, escaped.
    assert "<code>gameday rollback &lt;run&gt;</code> undoes what the ledger lists." in html

    [chart] = svgs
    texts = "".join(chart.itertext())
    for label in ("requests/s", "errors %", "latency ms", "fault: delay-orders-to-payments"):
        assert label in texts
    assert "checkout-error-rate" in texts and "N1" in texts


def test_markdown_has_the_png_chart_beside_it(make_run: Callable[..., Path]):
    run = make_run()
    written = write_reports(run, ["md"])
    assert written == [run / "charts" / "timeline.png", run / "report.md"]
    assert (run / "charts" / "timeline.png").read_bytes()[:8] == PNG_MAGIC
    markdown = (run / "report.md").read_text()
    assert "](charts/timeline.png)" in markdown
    assert "**HELD**. Exit code 0: the steady-state hypothesis held" in markdown
    assert "| baseline | +3.0 s → +8.0 s | 100 | 20.0 | 0.00 % |" in markdown
    assert "| delay-orders-to-payments | orders->payments | +8.5 s | +23.5 s |" in markdown


def test_junit_has_a_case_per_check_and_invariant_with_values(make_run: Callable[..., Path]):
    run = make_run(verdict="deviated", exit_code=1, fault_errors=True)
    [junit] = write_reports(run, ["junit"])
    root = ET.parse(junit).getroot()
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    report = build_report(run)
    assert len(cases) == 1 + report.check_count + len(report.invariants) == 21
    failures = [case.find("failure") for case in cases if case.find("failure") is not None]
    assert suite.get("failures") == str(len(failures)) == "16"
    tolerance_failures = [f for f in failures if f.get("type") == "tolerance"]
    assert len(tolerance_failures) == 15
    assert tolerance_failures[0].get("message") == (
        "checkout-error-rate = 0.25, tolerance within [0.0, 0.05] (method, +9.0 s)"
    )
    invariant = next(c for c in cases if c.get("classname", "").endswith(".invariant"))
    assert invariant.get("name") == "no-order-lost-or-charged-twice"
    assert invariant.find("failure") is None


def test_the_report_command_writes_every_format(
    make_run: Callable[..., Path], tmp_path: Path, html_checker: Callable
):
    run = make_run(verdict="aborted", exit_code=3, aborted=True, fault_errors=True)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"charts", "report.md", "report.html", "junit.xml"}
    text, _ = html_checker((out / "report.html").read_text())
    assert (
        "ABORTED guardrail error-rate held. Exit code 3" in text
        and "guardrail tripped: error_rate > 0.2" in text
    )


def test_the_report_command_rejects_bad_input_with_exit_2(
    make_run: Callable[..., Path], tmp_path: Path
):
    runner = CliRunner()
    missing = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a directory" in missing.output
    not_a_run = runner.invoke(app, ["report", str(tmp_path)])
    assert not_a_run.exit_code == 2 and "summary.json: missing" in not_a_run.output
    bad_format = runner.invoke(app, ["report", str(make_run()), "--format", "md,pdf"])
    assert bad_format.exit_code == 2 and "unknown report format pdf" in bad_format.output


def test_overlapping_faults_share_one_shaded_window_and_label(make_run: Callable[..., Path]):
    run = make_run()
    timeline = run / "timeline.jsonl"
    lines = timeline.read_text().splitlines()
    start = next(
        json.loads(line) for line in lines if '"edge": "start"' in line and "fault" in line
    )
    second = {**start, "id": "kill-2", "name": "kill-again", "ts": start["ts"] + 2}
    second_end = {**second, "edge": "end", "ts": start["ts"] + 4}
    timeline.write_text("\n".join([*lines, json.dumps(second), json.dumps(second_end)]) + "\n")
    report = build_report(run)
    assert len(report.faults) == 2
    assert [(s, e, n) for s, e, n in fault_spans(report)] == [
        (8.5, 23.5, ["delay-orders-to-payments", "kill-again"])
    ]
    svg = render_svg(report, chart_id="x")
    assert "2 faults: delay-orders-to-payments …" in svg


def test_a_run_that_could_not_start_still_gets_a_report(tmp_path: Path, html_checker: Callable):
    run = tmp_path / "runs" / "20270115T080000Z-x"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(
        json.dumps(
            {
                "verdict": "could_not_run",
                "exit_code": 4,
                "title": "x",
                "reason": "the local mesh did not start",
            }
        )
    )
    write_reports(run)
    text, [_svg] = html_checker((run / "report.html").read_text())
    assert "COULD_NOT_RUN the local mesh did not start. Exit code 4" in text
    assert "No load was recorded for this run." in text
    [suite] = ET.parse(run / "junit.xml").getroot().findall("testsuite")
    assert suite.get("tests") == "1" and suite.get("failures") == "1"


def test_a_check_without_a_value_says_why(make_run: Callable[..., Path]):
    run = make_run()
    failed = {
        "ts": 1_800_000_010.2,
        "kind": "check",
        "probe": "checkout-error-rate",
        "phase": "method",
        "value": None,
        "tolerance": {"type": "range", "range": [0, 0.05]},
        "ok": False,
        "status": "failed",
        "error": "chaoslib.exceptions.ActivityFailed: chaos.probes.errors.NoData: no requests "
        "to POST /checkout in the 2 s window: is the load running?",
    }
    with (run / "timeline.jsonl").open("a") as timeline:
        timeline.write(json.dumps(failed) + "\n")
    [value] = [v for p in build_report(run).probes for v in p.values if not v.ok]
    assert value.error == (
        "NoData: no requests to POST /checkout in the 2 s window: is the load running?"
    )
    write_reports(run, ["md", "html", "junit"])
    assert (
        "| method | no value: NoData: no requests to POST /checkout"
        in (run / "report.md").read_text()
    )
    assert "no value (NoData)" in (run / "report.html").read_text()
    [failure] = ET.parse(run / "junit.xml").getroot().iter("failure")
    assert failure.get("message", "").startswith("checkout-error-rate = no value (NoData: no req")
