"""`gameday demo` appends its run to the history like `gameday run` (fast: a toy flagship
on target `none` instead of the mesh)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import chaos.cli.run
from chaos import bundled
from chaos.cli.main import app

TOY_FLAGSHIP = """\
title: Flagship stand-in
description: a demo test
target: none
load: false
steady-state-hypothesis:
  title: constant
  probes:
    - {type: probe, name: one, tolerance: 1,
       provider: {type: python, module: toy_providers, func: constant}}
method:
  - {type: probe, name: m, provider: {type: python, module: toy_providers, func: constant}}
"""


def test_demo_appends_its_run_to_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toy = tmp_path / "flagship.yaml"
    toy.write_text(TOY_FLAGSHIP)
    monkeypatch.chdir(tmp_path)
    # The demo runs the bundled flagship; here a toy one on target `none`.
    monkeypatch.setattr(bundled, "experiment", {"flagship": toy}.get)
    real_execute = chaos.cli.run.execute

    def without_mesh(file, vars, var_files, target, *rest, **kwargs):
        assert target == "local"
        return real_execute(file, vars, var_files, "none", *rest, **kwargs)

    monkeypatch.setattr(chaos.cli.run, "execute", without_mesh)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["demo", "--no-live", "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    lines = (runs / "index.jsonl").read_text().splitlines()
    [entry] = [json.loads(line) for line in lines]
    assert entry["title"] == "Flagship stand-in"
    assert entry["verdict"] == "held" and entry["exit_code"] == 0
    assert entry["experiment"].endswith("flagship.yaml")
    assert Path(entry["run_dir"]).is_dir()
