"""The console in a real browser (slow): Debian's Chromium follows `gameday run --console`
against the real mesh, shows the fault window and a failed check, takes a note that lands
in the run's timeline and report, and its emergency stop leaves nothing applied."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chaos.proxy import ToxiproxyClient
from chaos.safety.ledger import Ledger
from tests.console.browser import (
    chromium,
    console_run,
    missing_browser,
    run_argv,
    write_experiment,
)

pytestmark = pytest.mark.slow

NOTE = "<b>checkout</b> spinner & stuck"
RUNBOOK = "# Catalog slow\n\nLook at <em>gateway->catalog</em> first.\n"


@pytest.fixture
def workspace(tmp_path: Path, gameday_mesh) -> dict:
    problem = missing_browser()
    assert problem is None, problem
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "catalog-slow.md").write_text(RUNBOOK)
    env = {**os.environ, "GAMEDAY_MESH_STATE": str(gameday_mesh.state_file), "COLUMNS": "200"}
    proxy = ToxiproxyClient(gameday_mesh.state.proxy_api, timeout=5.0)
    return {"dir": tmp_path, "env": env, "proxy": proxy, "runs": tmp_path / "runs"}


def _wait(driver, condition, timeout_s: float, what: str):
    try:
        return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        shown = driver.find_element(By.TAG_NAME, "body").text
        pytest.fail(f"the page never showed {what}; it showed:\n{shown}")


def _argv(workspace: dict, experiment: Path) -> list[str]:
    return run_argv(experiment, workspace["runs"])


def _run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if p.is_dir())


def test_the_team_follows_and_notes_a_run_in_the_browser(workspace) -> None:
    experiment = write_experiment(workspace["dir"], pause_s=8)
    with (
        console_run(_argv(workspace, experiment), workspace["env"], workspace["dir"]) as run,
        chromium(workspace["dir"] / "profile") as driver,
    ):
        driver.get(run.url())
        _wait(driver, lambda d: d.find_element(By.ID, "stop").is_displayed(), 30, "the stop")
        _wait(
            driver,
            lambda d: (
                int(d.find_element(By.TAG_NAME, "body").get_attribute("data-fault-windows") or 0)
                >= 1
            ),
            60,
            "a fault window",
        )
        _wait(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "#checks tr.failed"),
            60,
            "a failed check",
        )
        # Experiment strings are shown as text, never as markup.
        assert driver.find_element(By.ID, "title").text == "Catalog <i>slow</i> & checked"
        assert "<em>gateway->catalog</em>" in driver.find_element(By.ID, "runbook").text
        driver.find_element(By.ID, "note-author").send_keys("Ana")
        driver.find_element(By.ID, "note-text").send_keys(NOTE)
        driver.find_element(By.CSS_SELECTOR, "#note-form button").click()
        _wait(
            driver,
            lambda d: NOTE in [e.text for e in d.find_elements(By.CSS_SELECTOR, ".note-text")],
            30,
            "the note",
        )
        assert not driver.find_elements(By.CSS_SELECTOR, "#notes b")
        # The console's pushes keep up: every second reached the page (generous bound).
        seen = driver.execute_script("return window.gamedaySeen")
        assert len(seen) >= 3
        assert run.finish(150) == 1, "".join(run.output)
    (run_dir,) = _run_dirs(workspace["runs"])
    events = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    notes = [e for e in events if e["kind"] == "note"]
    assert [(n["text"], n["author"]) for n in notes] == [(NOTE, "Ana")]
    assert NOTE in (run_dir / "report.md").read_text()
    assert workspace["proxy"].toxics("gateway->catalog") == []


def test_the_emergency_stop_in_the_browser_leaves_nothing_applied(workspace) -> None:
    experiment = write_experiment(workspace["dir"], pause_s=90)
    with (
        console_run(_argv(workspace, experiment), workspace["env"], workspace["dir"]) as run,
        chromium(workspace["dir"] / "profile") as driver,
    ):
        driver.get(run.url())
        _wait(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "#faults tr.applied"),
            60,
            "the applied fault",
        )
        assert workspace["proxy"].toxics("gateway->catalog"), "the fault is not applied"
        started = time.monotonic()
        driver.find_element(By.ID, "stop").click()
        driver.switch_to.alert.accept()
        _wait(
            driver,
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-stopped"),
            60,
            "the stop's outcome",
        )
        outcome = driver.find_element(By.TAG_NAME, "body").get_attribute("data-stopped")
        assert outcome == "complete", driver.find_element(By.ID, "message").text
        assert run.finish(60) == 3, "".join(run.output)
        # Long before the 90 s pause would have ended.
        assert time.monotonic() - started < 60
    assert workspace["proxy"].toxics("gateway->catalog") == []
    (run_dir,) = _run_dirs(workspace["runs"])
    assert Ledger(run_dir / "ledger.jsonl").outstanding() == []
    assert (workspace["runs"] / ".emergency-stop").exists()


PLAN = """\
title: Console game day
description: one step, started from the console
facilitation: runbooks/facilitation.md
target: {{kind: mesh}}
load: {{users: 4, spawn_rate: 4, warmup_s: 1}}
steps:
  - experiment: {experiment}
    instructions: Predict the product pages' p95 under 600 ms of catalog latency.
"""


def test_next_step_in_the_browser_starts_the_game_days_experiment(workspace) -> None:
    experiment = write_experiment(workspace["dir"], pause_s=2)
    (workspace["dir"] / "runbooks" / "facilitation.md").write_text("# Facilitation\n")
    plan = workspace["dir"] / "plan.yaml"
    plan.write_text(PLAN.format(experiment=experiment))
    args = ["play", str(plan), "--step", "--console", "--runs-dir", str(workspace["runs"])]
    with (
        console_run(args, workspace["env"], workspace["dir"]) as play,
        chromium(workspace["dir"] / "profile") as driver,
    ):
        driver.get(play.url())
        _wait(
            driver,
            lambda d: (
                d.find_element(By.ID, "next").is_displayed()
                and d.find_element(By.ID, "next").is_enabled()
            ),
            90,
            "Next enabled",
        )
        driver.find_element(By.ID, "note-author").send_keys("Fatima")
        # No Enter reaches the game day (its stdin is empty): only the console moves it on.
        assert play.process.poll() is None
        assert not [p for p in _run_dirs(workspace["runs"]) if "gameday" not in p.name]
        driver.find_element(By.ID, "next").click()
        _wait(
            driver,
            lambda d: "running" in d.find_element(By.ID, "steps").text,
            60,
            "the step running",
        )
        # The experiment's verdict is not the point here: that the step ran is.
        assert play.finish(150) in (0, 1), "".join(play.output)
    (folder,) = [p for p in _run_dirs(workspace["runs"]) if "gameday" in p.name]
    (step,) = json.loads((folder / "gameday.json").read_text())["steps"]
    assert step["verdict"] in ("held", "deviated")
    events = [json.loads(line) for line in (folder / "timeline.jsonl").read_text().splitlines()]
    advance = [e for e in events if e["kind"] == "advance"]
    step_start = [e for e in events if e["kind"] == "step" and e["edge"] == "start"]
    assert [e["author"] for e in advance] == ["Fatima"]
    assert step_start and step_start[0]["ts"] >= advance[0]["ts"]
    assert "next step: Fatima" in "".join(play.output)
    assert workspace["proxy"].toxics("gateway->catalog") == []
