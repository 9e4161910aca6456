"""The pytest plugin as a user's suite sees it: a `gameday` marker, ini and command-line
options, and a fixture that starts the session's mesh only for `local`/`mesh` targets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NO_MESH_EXPERIMENT = """\
title: no mesh needed
description: a probe of this machine only
extensions:
  - name: gameday
    target: none
    load: false
steady-state-hypothesis:
  title: the file is there
  probes:
    - type: probe
      name: file-exists
      tolerance: {expect}
      provider: {{type: python, module: os.path, func: exists, arguments: {{path: {path}}}}}
method:
  - type: probe
    name: look
    provider: {{type: python, module: os.path, func: isfile, arguments: {{path: {path}}}}}
"""

# A user's conftest: the session mesh must not start for a `none` target.
CONFTEST = """\
import pytest

@pytest.fixture(scope="session")
def gameday_mesh():
    raise AssertionError("the mesh was started for an experiment that does not need it")
"""

TESTS = """\
import json
from pathlib import Path

import pytest


@pytest.mark.gameday("experiments/holds.yaml", expect="held")
def test_marked_holds(gameday_result):
    assert gameday_result.verdict == "held"
    assert gameday_result.run_dir.parent == Path("{runs}")


@pytest.mark.gameday(experiment="experiments/unmet.yaml")
def test_marked_expecting_held_fails():
    raise AssertionError("the body must not run when the verdict is not the expected one")


@pytest.mark.gameday("experiments/unmet.yaml", expect="could_not_run")
def test_marked_could_not_run_as_expected():
    pass


def test_fixture_without_marker(run_gameday_experiment):
    result = run_gameday_experiment("experiments/holds.yaml")
    assert result.verdict == "held"
    assert (Path("{runs}") / "index.jsonl").is_file()


def test_mesh_options_from_ini(gameday_mesh_options):
    assert gameday_mesh_options == {{"replicas": {{"catalog": 3, "orders": 2}}}}
"""


def _suite(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    (suite / "experiments").mkdir(parents=True)
    present = suite / "present.txt"
    present.write_text("here")
    for name, expect in (("holds", "true"), ("unmet", "false")):
        (suite / "experiments" / f"{name}.yaml").write_text(
            NO_MESH_EXPERIMENT.format(expect=expect, path=present), encoding="utf-8"
        )
    runs = tmp_path / "gameday-runs"
    (suite / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (suite / "test_resilience.py").write_text(TESTS.format(runs=runs), encoding="utf-8")
    (suite / "pytest.ini").write_text(
        "[pytest]\ngameday_replicas =\n    catalog=3\n    orders=2\n", encoding="utf-8"
    )
    return suite


def test_marker_options_and_target_aware_fixture(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    runs = tmp_path / "gameday-runs"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"]
        + ["--gameday-runs-dir", str(runs), "-W", "error::UserWarning"],
        cwd=suite,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    output = completed.stdout + completed.stderr
    assert "PASSED test_resilience.py::test_marked_holds" in output, output
    assert "PASSED test_resilience.py::test_marked_could_not_run_as_expected" in output, output
    assert "PASSED test_resilience.py::test_fixture_without_marker" in output, output
    assert "PASSED test_resilience.py::test_mesh_options_from_ini" in output, output
    assert "ERROR test_resilience.py::test_marked_expecting_held_fails" in output, output
    assert "experiments/unmet.yaml: expected held, got could_not_run" in output, output
    assert "the body must not run" not in output
    assert "the mesh was started" not in output
    assert completed.returncode == 1
    assert len(list(runs.glob("*-no-mesh-needed*"))) == 4


def test_marker_and_options_are_registered(tmp_path: Path) -> None:
    markers = subprocess.run(
        [sys.executable, "-m", "pytest", "--markers", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "@pytest.mark.gameday(experiment, expect='held', **options)" in markers.stdout
    help_text = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    for name in ("--gameday-runs-dir", "--gameday-replicas", "--gameday-topology"):
        assert name in help_text
    for name in ("gameday_runs_dir", "gameday_replicas", "gameday_topology"):
        assert name in help_text
