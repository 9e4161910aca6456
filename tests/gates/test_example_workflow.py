"""The example GitHub Actions workflow uses commands and options that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from chaos.cli.main import app

WORKFLOW = Path(__file__).parents[2] / "examples" / "github-actions" / "resilience.yml"


def steps():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return workflow["jobs"]["gameday"]["steps"]


def gameday_lines() -> list[str]:
    return [
        line.strip()
        for step in steps()
        for line in step.get("run", "").splitlines()
        if re.search(r"\bgameday\s+[a-z]", line)
    ]


def help_text(command: list[str]) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (command, result.output)
    return result.output


def test_every_gameday_command_and_option_in_the_workflow_exists():
    lines = gameday_lines()
    assert len(lines) >= 4
    for line in lines:
        words = line.split("gameday", 1)[1].split()
        command = [words[0]] + ([words[1]] if words[0] == "mesh" else [])
        text = help_text(command)
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line):
            assert option in text, f"{' '.join(command)} has no {option}"
    # the baseline options sit in a bash array on their own line
    run_help = help_text(["run"])
    assert "--baseline" in run_help and "--margin" in run_help


def test_workflow_starts_the_mesh_detached_and_keeps_reports():
    by_name = {step.get("name", step.get("uses")): step for step in steps()}
    assert "gameday mesh up --detach" in " ".join(s.get("run", "") for s in steps())
    suite = next(s for s in steps() if "gameday run" in s.get("run", ""))
    assert "--junit" in suite["run"]
    stop = next(s for s in steps() if "gameday mesh down" in s.get("run", ""))
    assert stop["if"] == "always()"
    upload = by_name["Upload reports and run folders"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert "reports/" in upload["with"]["path"] and "runs/" in upload["with"]["path"]
