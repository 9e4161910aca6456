"""The console in a real browser (slow): Debian's Chromium follows `gameday run --console`
against the real mesh, shows the fault window and a failed check, takes a note that lands
in the run's timeline and report, and its emergency stop leaves nothing applied."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chaos.proxy import ToxiproxyClient
from chaos.safety.ledger import Ledger
from tests.console.browser import chromium, console_run, missing_browser, write_experiment

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
    return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(
        lambda d: condition(d), message=f"the page never showed {what}"
    )


def _run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if p.is_dir())


def test_the_team_follows_and_notes_a_run_in_the_browser(workspace) -> None:
    experiment = write_experiment(workspace["dir"], pause_s=8)
    with (
        console_run(experiment, workspace["runs"], workspace["env"], workspace["dir"]) as run,
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
        console_run(experiment, workspace["runs"], workspace["env"], workspace["dir"]) as run,
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
