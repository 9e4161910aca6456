"""Our settings live under `extensions: [{name: gameday, ...}]`; the old top-level form still
loads with a one-line notice naming the file."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from chaos.experiment import load_experiment
from chaos.experiment.extension import GAMEDAY_KEYS, LegacyExperimentForm, gameday_settings

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "experiments").glob("*.yaml"))
BIN = Path(sys.executable).parent
OLD_FORM = """\
title: old form
description: settings at the top level
target: none
load: false
hypothesis_frequency_s: 2
method:
  - {type: probe, name: m, provider: {type: python, module: chaos.probes.load, func: error_rate}}
"""


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_experiments_use_the_extension_form(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert not set(raw) & set(GAMEDAY_KEYS), "gameday keys at the top level"
    with warnings.catch_warnings():
        warnings.simplefilter("error", LegacyExperimentForm)
        loaded = load_experiment(path)
    [entry] = [e for e in loaded.data["extensions"] if e["name"] == "gameday"]
    [written] = [e for e in raw["extensions"] if e["name"] == "gameday"]
    assert entry["target"] == written["target"]
    assert loaded.model.runbook == entry["runbook"]


def test_old_form_loads_with_a_warning_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(OLD_FORM, encoding="utf-8")
    with pytest.warns(LegacyExperimentForm, match=str(path)) as caught:
        loaded = load_experiment(path)
    assert len(caught) == 1
    assert "target, load, hypothesis_frequency_s" in str(caught[0].message)
    assert loaded.model.target.kind == "none"
    assert loaded.model.load is None
    assert loaded.model.hypothesis_frequency_s == 2
    # Normalised: the journal holds only the extension form.
    assert "target" not in loaded.data
    assert gameday_settings(loaded.data)["hypothesis_frequency_s"] == 2


def test_gameday_validate_prints_one_notice_line_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(OLD_FORM, encoding="utf-8")
    completed = subprocess.run(
        [str(BIN / "gameday"), "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert completed.returncode == 0, completed.stderr
    notices = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(notices) == 1, completed.stderr
    assert notices[0].startswith(f"notice: {path}: old form:")
    assert "notice" not in completed.stdout


def test_gameday_settings_reads_an_old_runs_experiment_json() -> None:
    old = {"title": "t", "runbook": "runbooks/x.md", "target": {"kind": "local"}}
    new = {"title": "t", "extensions": [{"name": "gameday", "runbook": "runbooks/y.md"}]}
    assert gameday_settings(old)["runbook"] == "runbooks/x.md"
    assert gameday_settings(new) == {"runbook": "runbooks/y.md"}


@pytest.mark.slow
def test_chaos_validate_accepts_a_bundled_experiment() -> None:
    completed = subprocess.run(
        [str(BIN / "chaos"), "--no-log-file", "validate", str(ROOT / "experiments/flagship.yaml")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Experiment looks valid" in completed.stdout + completed.stderr
