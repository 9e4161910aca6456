"""Game-day plans and the combined report of a game-day folder."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.gameday.errors import PlanError
from chaos.gameday.notes import append_note
from chaos.gameday.plan import load_plan
from chaos.report.gameday import build_gameday_report

PROJECT = Path(__file__).resolve().parents[2]
SAMPLE_PLAN = PROJECT / "gamedays" / "shop-checkout.yaml"


def test_the_sample_plan_is_one_hour_of_four_valid_experiments():
    loaded = load_plan(SAMPLE_PLAN)
    assert len(loaded.experiments) == 4
    assert loaded.facilitation == PROJECT / "runbooks" / "gameday-facilitation.md"
    plan = loaded.plan
    scheduled = plan.load.warmup_s + sum(step.pause_after_s for step in plan.steps)
    assert 30 * 60 <= scheduled <= 60 * 60
    assert all(step.instructions for step in plan.steps)


def test_plan_errors_name_the_file_line_and_field(tmp_path: Path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "title: t\nsteps:\n  - experiment: experiments/nope.yaml\n    pause_after_s: -1\n"
        "    colour: red\n"
    )
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    messages = [str(issue) for issue in caught.value.issues]
    assert f"{plan}:4: steps[0].pause_after_s: Input should be greater than or equal to 0" in (
        messages
    )
    assert f"{plan}:5: steps[0].colour: unknown field" in messages

    plan.write_text("title: t\nsteps:\n  - experiment: experiments/nope.yaml\n")
    with pytest.raises(PlanError, match=r"plan.yaml:3: steps\[0\].experiment: .*not found"):
        load_plan(plan)


def test_an_invalid_experiment_in_a_plan_fails_before_anything_starts(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: bad\nmethod: 3\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"title: t\nsteps:\n  - experiment: {bad}\n")
    result = CliRunner().invoke(app, ["play", str(plan), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "invalid game-day plan" in result.output and str(bad) in result.output
    assert not (tmp_path / "runs").exists()


def test_the_combined_report_indexes_every_verdict_then_each_experiment(
    make_run: Callable[..., Path], tmp_path: Path, html_checker: Callable
):
    held = make_run("20270115T080000Z-payments-latency")
    deviated = make_run(
        "20270115T081500Z-payments-latency", verdict="deviated", exit_code=1, fault_errors=True
    )
    gameday = tmp_path / "runs" / "20270115T075500Z-gameday-shop"
    gameday.mkdir()
    steps = [
        {
            "index": 0,
            "experiment": "a.yaml",
            "title": "First",
            "run_dir": f"../{held.name}",
            "verdict": "held",
            "exit_code": 0,
        },
        {
            "index": 1,
            "experiment": "b.yaml",
            "title": "Second",
            "run_dir": f"../{deviated.name}",
            "verdict": "deviated",
            "exit_code": 1,
            "instructions": "Predict the error rate.",
        },
        {"index": 2, "experiment": "c.yaml", "title": "Third (not reached)"},
    ]
    (gameday / "gameday.json").write_text(
        json.dumps(
            {
                "kind": "gameday",
                "title": "Shop game day",
                "plan": "gamedays/shop.yaml",
                "started_at": "2027-01-15T07:55:00+00:00",
                "ended_at": "2027-01-15T08:20:00+00:00",
                "verdict": "deviated",
                "exit_code": 1,
                "reason": "step 2 (Second) deviated",
                "steps": steps,
            }
        )
    )
    append_note(gameday, "debrief: retries hid the latency", author="scribe")

    report = build_gameday_report(gameday)
    assert [s.verdict for s in report.steps] == ["held", "deviated", "not_run"]
    assert sorted(report.reports) == [0, 1]
    assert report.reports[1].verdict.verdict == "deviated"
    [note] = report.notes
    assert note.text == "debrief: retries hid the latency"

    result = CliRunner().invoke(app, ["report", str(gameday)])
    assert result.exit_code == 0, result.output
    text, svgs = html_checker((gameday / "report.html").read_text())
    assert "DEVIATED step 2 (Second) deviated. Exit code 1: at least one experiment" in text
    assert "1 First held 0" in text and "2 Second deviated 1" in text
    assert "3 Third (not reached) not_run –" in text
    assert "Facilitator: Predict the error rate." in text
    assert "debrief: retries hid the latency" in text
    assert len(svgs) == 2
    # Two charts on one page keep their element ids apart.
    ids = [e.get("id") for svg in svgs for e in svg.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    markdown = (gameday / "report.md").read_text()
    assert "](charts/step-0.png)" in markdown and "](charts/step-1.png)" in markdown
    assert f"[../{deviated.name}](../{deviated.name}/report.md)" in markdown
    suites = ET.parse(gameday / "junit.xml").getroot().findall("testsuite")
    assert len(suites) == 2

    elsewhere = tmp_path / "shared" / "gameday-report"
    result = CliRunner().invoke(app, ["report", str(gameday), "-f", "html", "-o", str(elsewhere)])
    assert result.exit_code == 0, result.output
    html = (elsewhere / "report.html").read_text()
    # Links still reach the run folders from the new place.
    link = f"../../runs/{deviated.name}/report.html"
    assert f'href="{link}"' in html and (elsewhere / link).parent.is_dir()


def test_a_game_day_whose_mesh_is_not_running_could_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from chaos.gameday.runner import PlayOptions, play

    monkeypatch.setenv("GAMEDAY_MESH_STATE", str(tmp_path / "no-mesh.json"))
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "title: nothing to attach to\ntarget: {kind: mesh}\n"
        f"steps:\n  - experiment: {PROJECT / 'experiments' / 'payments-latency.yaml'}\n"
    )
    said: list[str] = []

    class Recorder:
        def say(self, text: str) -> None:
            said.append(text)

        def wait_for_enter(self, prompt: str) -> None:
            raise AssertionError("no step may start")

        def watching(self) -> contextlib.nullcontext[None]:
            return contextlib.nullcontext()

        def sleep(self, seconds: float, label: str) -> None:
            raise AssertionError("no pause may start")

    runs = tmp_path / "runs"
    result = play(load_plan(plan), PlayOptions(runs_dir=runs, step=True), Recorder())
    assert (result.verdict, result.exit_code) == ("could_not_run", 4)
    assert "no running mesh" in (result.reason or "")
    assert [s.verdict for s in result.steps] == ["not_run"]
    summary = json.loads((result.gameday_dir / "gameday.json").read_text())
    assert (summary["verdict"], summary["exit_code"]) == ("could_not_run", 4)
    assert (result.gameday_dir / "report.html").is_file()
    assert not (runs / ".active").exists()
    assert [p.name for p in runs.iterdir()] == [result.gameday_dir.name]


def test_every_experiment_a_game_day_runs_is_appended_to_the_run_history(
    make_run: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`gameday play` records each experiment's run in runs/index.jsonl, like `gameday run`.
    The target, load and engine are replaced so only the game day's bookkeeping runs."""
    from chaos.engine import RunResult
    from chaos.engine.target import PreparedTarget
    from chaos.gameday import runner
    from chaos.gates import read_history

    runs = tmp_path / "runs"
    folders = iter(
        [
            make_run("20270115T080000Z-payments-latency"),
            make_run(
                "20270115T081500Z-payments-latency",
                verdict="deviated",
                exit_code=1,
                fault_errors=True,
            ),
        ]
    )

    def run_experiment(path: Path, options: object) -> RunResult:
        run_dir = next(folders)
        summary = json.loads((run_dir / "summary.json").read_text())
        return RunResult(
            verdict=summary["verdict"],
            exit_code=summary["exit_code"],
            reason="",
            title="Payments latency under load",
            run_dir=run_dir,
        )

    class Load:
        def __init__(self, spec: object) -> None: ...

        def start(self) -> None: ...

        def wait_ready(self, timeout: float) -> None: ...

        def stop(self) -> None: ...

    class Quiet:
        def say(self, text: str) -> None: ...

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
    experiment = PROJECT / "experiments" / "payments-latency.yaml"
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "title: history\ntarget: {kind: mesh}\n"
        f"steps:\n  - experiment: {experiment}\n  - experiment: {experiment}\n"
    )

    result = runner.play(load_plan(plan), runner.PlayOptions(runs_dir=runs), Quiet())

    assert (result.verdict, result.exit_code) == ("deviated", 1)
    history = read_history(runs)
    assert [(e.verdict, e.exit_code) for e in history] == [("held", 0), ("deviated", 1)]
    assert [Path(e.run_dir) for e in history] == [s.run_dir for s in result.steps]
    assert all(Path(e.experiment).name == experiment.name for e in history)
    assert history[1].p95_under_fault_ms is not None
