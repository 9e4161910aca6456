"""Reports of real short runs against the bundled mesh (slow): a holding, a deviating and
an aborted run through `chaos.engine.run_experiment`, and a two-step `gameday play`. The
report's numbers are checked against the run folder's own stream and raw samples."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from chaos.engine import RunOptions, RunResult, run_experiment
from chaos.engine.target import MESH_STATE_ENV
from chaos.gameday.active import active_run
from chaos.gameday.errors import NoActiveRun
from chaos.gameday.notes import stamp_note
from chaos.gameday.plan import load_plan
from chaos.gameday.runner import PlayOptions, play
from chaos.report import Report, build_report, write_reports

pytestmark = pytest.mark.slow

GAMEDAY_CLI = Path(sys.executable).parent / "gameday"
EXPERIMENT = """\
title: report e2e {name}
description: A short real run whose report is checked against its run folder.
teaches: Every number in a report can be traced to the run folder.
tags: [e2e, {name}]
target: mesh
load: {{users: 8, spawn_rate: 8, warmup_s: 1, baseline_s: 3, recovery_s: 4}}
hypothesis_frequency_s: 1
{guardrails}
steady-state-hypothesis:
  title: products are served
  probes:
    - type: probe
      name: {probe}
      tolerance: {{type: range, range: [0, {limit}]}}
      provider:
        type: python
        module: chaos.probes.load
        func: {func}
        arguments: {arguments}
method:
  - type: action
    name: slow-{edge_slug}
    provider:
      type: python
      module: chaos.faults.network
      func: add_latency
      arguments: {{edge: "{edge}", latency_ms: {latency}, ttl_s: 120}}
    pauses: {{after: {pause}}}
rollbacks:
  - type: action
    name: lift-latency
    provider:
      type: python
      module: chaos.faults.network
      func: remove_toxics
      arguments: {{edge: "{edge}"}}
"""
ERROR_RATE = {
    "probe": "products-error-rate",
    "func": "error_rate",
    "limit": 0.2,
    # 3 s and 8 users: sparse enough load leaves a 2 s window without a single GET /products.
    "arguments": '{window_s: 3, endpoint: "GET /products"}',
}
P95 = {
    "probe": "products-p95-ms",
    "func": "latency_percentile",
    # Loose enough that a busy machine's stray slow request does not breach it before the
    # fault; the fault adds 800 ms to every catalog call.
    "limit": 400,
    # Since the fault started: slowed users complete few requests, so a trailing window
    # could still hold only fast ones when the pause ends.
    "arguments": '{p: 95, window_s: 3, since: fault, endpoint: "GET /products"}',
}
CASES = {
    "holds": {
        "edge": "orders->payments",
        "latency": 50,
        "pause": 4,
        "guardrails": "",
        **ERROR_RATE,
    },
    "deviates": {"edge": "gateway->catalog", "latency": 800, "pause": 5, "guardrails": "", **P95},
    "aborts": {
        "edge": "gateway->catalog",
        "latency": 600,
        "pause": 10,
        "guardrails": "guardrails:\n  - {name: browse-too-slow, metric: p95, above: 300, for_s: 2}",
        **ERROR_RATE,
    },
}
NOTE = "product pages feel slow"


def write_experiment(folder: Path, name: str) -> Path:
    fields = CASES[name]
    path = folder / f"{name}.yaml"
    path.write_text(
        EXPERIMENT.format(name=name, edge_slug=fields["edge"].replace("->", "-"), **fields)
    )
    return path


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from chaos.targets.launcher import start_mesh

    handle = start_mesh(state_dir=tmp_path_factory.mktemp("report-mesh"))
    previous = os.environ.get(MESH_STATE_ENV)
    os.environ[MESH_STATE_ENV] = str(handle.state_file)
    try:
        yield handle
    finally:
        if previous is None:
            os.environ.pop(MESH_STATE_ENV, None)
        else:
            os.environ[MESH_STATE_ENV] = previous
        handle.stop()


class NoteFromAnotherTerminal(threading.Thread):
    """Runs `gameday note` as an observer would, as soon as a run is in progress."""

    def __init__(self, runs_dir: Path) -> None:
        super().__init__(daemon=True)
        self.runs_dir = runs_dir
        self.result: subprocess.CompletedProcess[str] | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                active_run(self.runs_dir)
                break
            except NoActiveRun:
                time.sleep(0.1)
        self.result = subprocess.run(
            [str(GAMEDAY_CLI), "note", NOTE, "--runs-dir", str(self.runs_dir), "-a", "obs"],
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def runs(mesh: object, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    folder = tmp_path_factory.mktemp("report-runs")
    results = {}
    for name in CASES:
        runs_dir = folder / "runs" / name
        observer = NoteFromAnotherTerminal(runs_dir) if name == "deviates" else None
        if observer:
            observer.start()
        results[name] = run_experiment(
            write_experiment(folder, name), RunOptions(runs_dir=runs_dir)
        )
        if observer:
            observer.join(timeout=60)
            assert observer.result is not None and observer.result.returncode == 0, observer.result
    return results


def _samples(run_dir: Path) -> list[tuple[float, float, bool]]:
    """(completion time, latency, failed) of every request, read straight from the files."""
    rows = []
    for path in sorted((run_dir / "load" / "samples").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                end_ts, _endpoint, latency, kind = json.loads(line)
                rows.append((float(end_ts), float(latency), kind is not None))
    return rows


def _nearest_rank(values: list[float], p: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@pytest.mark.parametrize(
    ("name", "verdict", "exit_code"),
    [("holds", "held", 0), ("deviates", "deviated", 1), ("aborts", "aborted", 3)],
)
def test_report_of_a_real_run(
    runs: dict[str, RunResult],
    html_checker: Callable,
    name: str,
    verdict: str,
    exit_code: int,
) -> None:
    result = runs[name]
    assert (result.verdict, result.exit_code) == (verdict, exit_code), result.reason
    assert result.run_dir is not None
    run_dir = result.run_dir
    report: Report = build_report(run_dir)
    assert (report.verdict.verdict, report.verdict.exit_code) == (verdict, exit_code)

    # The phase table against the run folder: every raw sample in each window is counted,
    # the percentiles are the samples' own, and the per-second stream brackets the counts.
    names = [row.name for row in report.phases]
    assert names[:2] == ["baseline", "during_fault"], names
    samples = _samples(run_dir)
    stream = [
        json.loads(line)
        for line in (run_dir / "load" / "stream.jsonl").read_text().split("\n")
        if line
    ]
    for row in report.phases:
        inside = [s for s in samples if row.start <= s[0] < row.end]
        assert row.requests == len(inside) > 0, row
        assert row.failures == sum(failed for _, _, failed in inside)
        assert row.p95 == pytest.approx(_nearest_rank([lat for _, lat, _ in inside], 95), abs=1e-3)
        assert row.p99 == pytest.approx(_nearest_rank([lat for _, lat, _ in inside], 99), abs=1e-3)
        whole = sum(
            s["requests"] for s in stream if row.start <= s["ts"] and s["ts"] + 1 <= row.end
        )
        touching = sum(
            s["requests"] for s in stream if s["ts"] + 1 > row.start and s["ts"] < row.end
        )
        late = json.loads((run_dir / "load" / "summary.json").read_text()).get("late_samples", 0)
        assert whole <= row.requests <= touching + late, (row, whole, touching)

    # The fault window, from the timeline, with its ledger history.
    [fault] = report.faults
    assert fault.start is not None and fault.end is not None and fault.start < fault.end
    during = report.phases[1]
    assert (during.start, during.end) == (fault.start, fault.end)
    assert fault.status == "undone" and fault.rolled_back_at is not None
    assert fault.applied_at is not None and fault.applied_at <= fault.end

    written = write_reports(run_dir)
    assert run_dir / "report.html" in written
    text, [svg] = html_checker((run_dir / "report.html").read_text())
    svg_text = "".join(svg.itertext())
    assert f"fault: {fault.name}" in svg_text and "requests/s" in svg_text
    assert verdict.upper() in text
    assert f"{during.requests}" in text

    junit = ET.parse(run_dir / "junit.xml").getroot()
    cases = junit.findall("testsuite/testcase")
    assert len(cases) == 1 + report.check_count
    failures = [c.find("failure") for c in cases if c.find("failure") is not None]
    assert len(failures) == (exit_code != 0) + report.failed_check_count


def test_deviating_run_measures_impact_and_recovery_and_shows_the_note(
    runs: dict[str, RunResult],
) -> None:
    report = build_report(runs["deviates"].run_dir)
    probe = report.probes[0]
    assert probe.failures >= 1
    breached = [v for v in probe.values if not v.ok]
    measured = [v.value for v in breached if v.error is None]
    assert measured and all(value > 400 for value in measured)
    # A check right after the fault starts may have no sample yet; it says why.
    assert all(v.error.startswith("NoData") for v in breached if v.value is None)
    assert report.recovery.time_to_impact_s is not None and report.recovery.time_to_impact_s >= 0
    assert report.recovery.recovered is True
    [note] = report.notes
    assert (note.text, note.author) == (NOTE, "obs")
    assert report.t0 <= note.ts <= report.experiment.ended_at


def test_aborted_run_reports_the_guardrail(runs: dict[str, RunResult]) -> None:
    report = build_report(runs["aborts"].run_dir)
    kinds = [event.kind for event in report.events]
    assert "guardrail" in kinds and "abort" in kinds
    assert "browse-too-slow" in (report.verdict.reason or "")


def test_play_runs_a_plan_under_one_shared_load(
    mesh: object, tmp_path: Path, html_checker: Callable
) -> None:
    holds, deviates = write_experiment(tmp_path, "holds"), write_experiment(tmp_path, "deviates")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "title: e2e game day\ntarget: {kind: mesh}\nload: {users: 8, spawn_rate: 8, warmup_s: 1}\n"
        f"steps:\n  - experiment: {holds}\n    instructions: predict\n    pause_after_s: 1\n"
        f"  - experiment: {deviates}\n"
    )
    said: list[str] = []

    class Recorder:
        def say(self, text: str) -> None:
            said.append(text)

        def wait_for_enter(self, prompt: str) -> None:
            said.append(prompt)

        def watching(self) -> contextlib.nullcontext[None]:
            return contextlib.nullcontext()

        def sleep(self, seconds: float, label: str) -> None:
            said.append(label)
            if label.startswith("pause"):
                # Between experiments a note lands in the game day's own timeline.
                stamp_note(tmp_path / "runs", "debrief: nobody noticed the latency", "scribe")
            time.sleep(seconds)

    result = play(load_plan(plan), PlayOptions(runs_dir=tmp_path / "runs", step=True), Recorder())
    assert [s.verdict for s in result.steps] == ["held", "deviated"], [
        s.reason for s in result.steps
    ]
    assert (result.verdict, result.exit_code) == ("deviated", 1)
    assert said.count("Press Enter to start the experiment") == 2 and "predict" in said
    # Each run read the game day's one load through its own load/.
    for step in result.steps:
        assert step.run_dir is not None
        assert (step.run_dir / "load").resolve() == (result.gameday_dir / "load").resolve()
        assert not os.path.isabs(os.readlink(step.run_dir / "load"))  # survives moving runs/
        assert (step.run_dir / "report.html").is_file()
    assert not (tmp_path / "runs" / ".active").exists()
    text, svgs = html_checker((result.gameday_dir / "report.html").read_text())
    assert len(svgs) == 2
    assert "1 report e2e holds held 0" in text and "2 report e2e deviates deviated 1" in text
    assert "scribe : debrief: nobody noticed the latency" in text
