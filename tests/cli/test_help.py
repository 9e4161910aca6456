"""First contact: `gameday --help` groups commands by what a user does, `demo` first, each
with a one-line summary."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from chaos.cli.main import HELP_PANELS, app

PANEL_TITLE = re.compile(r"^╭─ (.+?) ─")
COMMAND_ROW = re.compile(r"^│ (\S+) +\S")
CONTINUATION_ROW = re.compile(r"^│ {3,}\S")


def _help(width: int) -> list[str]:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _panels(lines: list[str]) -> dict[str, list[str]]:
    panels: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if title := PANEL_TITLE.match(line):
            current = panels.setdefault(title[1], [])
        elif current is not None and (row := COMMAND_ROW.match(line)):
            current.append(row[1])
    return panels


def test_every_command_is_in_a_panel() -> None:
    names = {info.name for info in [*app.registered_commands, *app.registered_groups]}
    grouped = [name for names in HELP_PANELS.values() for name in names]
    assert len(grouped) == len(set(grouped))
    assert names == set(grouped)


def test_help_groups_commands_by_task_with_demo_first() -> None:
    panels = _panels(_help(200))
    del panels["Options"]
    assert list(panels) == [
        "Start here",
        "Experiments",
        "Game days",
        "CI and incidents",
        "Targets and tools",
    ]
    assert panels["Start here"] == ["demo"]
    for title, names in panels.items():
        assert names == [name for name in HELP_PANELS[title] if name in names], title


def test_each_command_has_a_one_line_summary() -> None:
    lines = _help(250)
    command_rows = [line for line in lines if COMMAND_ROW.match(line) and "--" not in line[:4]]
    assert len(command_rows) >= 17
    assert not [line for line in lines if CONTINUATION_ROW.match(line)]
