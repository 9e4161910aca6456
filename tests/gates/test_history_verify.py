from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.gates import GateError, RunFolderError, append_run, index_path, read_history, verify


def test_every_run_appends_one_line(make_run, tmp_path):
    runs = tmp_path / "runs"
    a = make_run("20270115T080000Z-payments-latency", failing_checks_until=23.0)
    b = make_run("20270115T090000Z-catalog-kill", slug="catalog-kill", title="Catalog kill")
    append_run(a, "experiments/payments-latency.yaml")
    append_run(b, "experiments/catalog-kill.yaml")
    lines = index_path(runs).read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["experiment"] == "experiments/payments-latency.yaml"
    assert first["verdict"] == "held"
    assert first["exit_code"] == 0
    assert first["p95_under_fault_ms"] == 850.0
    assert first["time_to_recover_s"] == pytest.approx(3.5)
    assert first["run_dir"] == str(a)


def test_history_filters_by_experiment(make_run, tmp_path):
    runs = tmp_path / "runs"
    for i, verdict in enumerate(["held", "deviated", "held"]):
        run = make_run(f"run{i}", verdict=verdict, exit_code=0 if verdict == "held" else 1)
        append_run(run, "experiments/payments-latency.yaml")
    append_run(make_run("other", slug="catalog-kill"), "experiments/catalog-kill.yaml")
    assert len(read_history(runs)) == 4
    for key in ["payments-latency", "experiments/payments-latency.yaml", "payments-latency.yaml"]:
        entries = read_history(runs, key)
        assert [e.verdict for e in entries] == ["held", "deviated", "held"]
    assert read_history(runs, "nothing-like-it") == []
    assert read_history(tmp_path / "empty") == []


def test_bad_index_entry_is_located(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    index_path(runs).write_text('{"ts": 1}\n{"ts": 2}\n')
    with pytest.raises(RunFolderError, match="entry 1"):
        read_history(runs)


@dataclass
class FakeResult:
    run_dir: Path
    verdict: str
    exit_code: int


def scripted(verdicts: list[str]):
    calls: list[Path] = []
    codes = {"held": 0, "deviated": 1, "aborted": 3, "invalid": 2}

    def run_once(path: Path) -> FakeResult:
        verdict = verdicts[len(calls)]
        calls.append(path)
        return FakeResult(Path(f"runs/{len(calls)}"), verdict, codes[verdict])

    return run_once, calls


def test_verify_all_held():
    run_once, calls = scripted(["held"] * 3)
    report = verify(Path("x.yaml"), 3, run_once)
    assert len(calls) == 3
    assert (report.passes, report.pass_rate, report.ok, report.flaky) == (3, 1.0, True, False)


def test_verify_flaky_fix_is_visible():
    run_once, _ = scripted(["held", "deviated", "held"])
    seen = []
    report = verify(Path("x.yaml"), 3, run_once, on_run=seen.append)
    assert [run.attempt for run in seen] == [1, 2, 3]
    assert report.passes == 2
    assert report.pass_rate == pytest.approx(2 / 3)
    assert report.flaky
    assert not report.ok
    # a team may accept 2 of 3 explicitly
    run_once, _ = scripted(["held", "deviated", "held"])
    assert verify(Path("x.yaml"), 3, run_once, required_pass_rate=0.6).ok


def test_verify_stops_on_invalid_input():
    run_once, calls = scripted(["invalid", "held", "held"])
    report = verify(Path("x.yaml"), 3, run_once)
    assert len(calls) == 1
    assert not report.ok


def test_verify_needs_a_positive_repeat():
    run_once, _ = scripted([])
    with pytest.raises(GateError):
        verify(Path("x.yaml"), 0, run_once)
