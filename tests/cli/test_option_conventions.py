"""Command-line conventions: bad durations and margins are refused by click naming the
option, environment settings show in --help, and failures go to stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app

GAMEDAY = Path(sys.executable).parent / "gameday"


def _flat(text: str) -> str:
    """Rich panels wrap and frame long messages; compare their words only."""
    return " ".join(text.replace("│", " ").split())


def _invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    return result.exit_code, _flat(result.output)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["stop", "--hold", "5x"], "Invalid value for '--hold': '5x' is not a duration"),
        (["stop", "--grace", "0s"], "Invalid value for '--grace': duration must be more than 0 s"),
        (
            ["monkey", "--mean-interval", "often", "-s", "catalog"],
            "Invalid value for '--mean-interval': 'often' is not a duration",
        ),
        (
            ["compare", "a", "b", "--margin", "much"],
            "Invalid value for '--margin': 'much' is not a margin like 20% or 0.2",
        ),
        (
            ["run", "experiments/flagship.yaml", "--margin", "-5%"],
            "Invalid value for '--margin': the margin cannot be negative",
        ),
        (
            ["verify", "experiments/flagship.yaml", "--min-pass-rate", "most"],
            "Invalid value for '--min-pass-rate': 'most' is not a margin",
        ),
    ],
)
def test_bad_durations_and_margins_name_the_option(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    code, output = _invoke([*args, "--runs-dir", str(tmp_path)] if args[0] == "stop" else args)
    assert code == 2
    assert expected in output


@pytest.mark.parametrize(
    ("args", "envvar"),
    [
        (["mesh", "status", "--help"], "GAMEDAY_MESH_STATE"),
        (["mesh", "down", "--help"], "GAMEDAY_MESH_STATE"),
        (["mesh", "check", "--help"], "GAMEDAY_ACK_FILE"),
        (["monkey", "--help"], "GAMEDAY_MESH_STATE"),
    ],
)
def test_environment_settings_show_in_help(args: list[str], envvar: str) -> None:
    code, output = _invoke(args)
    assert code == 0
    assert f"env var: {envvar}" in output


def test_mesh_state_comes_from_the_environment(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "mesh.json"
    result = CliRunner().invoke(
        app, ["mesh", "status"], env={"GAMEDAY_MESH_STATE": str(missing), "COLUMNS": "200"}
    )
    assert result.exit_code != 0
    assert str(missing) in _flat(result.output)


def test_missing_ack_file_is_refused_by_name(tmp_path: Path) -> None:
    missing = tmp_path / "acks.jsonl"
    code, output = _invoke(["mesh", "check", "--ack-file", str(missing)])
    assert code == 2
    assert "Invalid value for '--ack-file' / '-a' (env var: 'GAMEDAY_ACK_FILE')" in output
    assert f"{missing.name}' does not exist" in output


def test_missing_locustfile_is_refused_by_name(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    code, output = _invoke(["load", "run", "-f", str(missing), "--host", "http://127.0.0.1:9"])
    assert code == 2
    assert "Invalid value for '--locustfile' / '-f'" in output
    assert f"{missing.name}' does not exist" in output


def test_load_failure_goes_to_stderr(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    completed = subprocess.run(
        [
            str(GAMEDAY),
            "load",
            "run",
            "-t",
            "1s",
            "--host",
            "http://127.0.0.1:9",
            "-o",
            str(blocker / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert completed.returncode == 2
    assert "load failed" in completed.stderr
    assert "cannot write the load output folder" in completed.stderr
    assert "load failed" not in completed.stdout
