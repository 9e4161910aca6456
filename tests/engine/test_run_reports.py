"""`gameday run` renders report.md, report.html and junit.xml into the run folder (fast: a
toy experiment on target `none`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from chaos.cli.main import app

TOY = """\
title: Reports after every run
description: a run test
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


def test_run_writes_all_three_reports(tmp_path: Path) -> None:
    path = tmp_path / "toy.yaml"
    path.write_text(TOY)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["run", str(path), "--no-live", "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    html = (run_dir / "report.html").read_text()
    assert "Reports after every run" in html
    assert "Reports after every run" in (run_dir / "report.md").read_text()
    suite = ET.parse(run_dir / "junit.xml").getroot()
    assert len(list(suite.iter("testcase"))) >= 2  # the hypothesis check and the verdict
    assert "report: " in result.output
