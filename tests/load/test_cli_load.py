import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.cli.params import parse_duration

from .conftest import LOCUSTFILES, KnownServer, locust_processes_for

cli = CliRunner()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("45", 45), ("2m", 120), ("1h30m", 5400), ("1m30s", 90), ("0.5s", 0.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["abc", "", "10x", "0s", "-5s"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_duration(text)


def test_bad_duration_is_exit_2() -> None:
    result = cli.invoke(app, ["load", "run", "--duration", "soon", "--host", "http://x"])
    assert result.exit_code == 2
    assert "Invalid value for '--duration' / '-t': 'soon' is not a duration" in " ".join(
        result.output.replace("│", " ").split()
    )


def test_missing_locustfile_is_exit_2(tmp_path: Path) -> None:
    result = cli.invoke(app, ["load", "run", "-f", str(tmp_path / "nope.py"), "--host", "http://x"])
    assert result.exit_code == 2
    assert "Invalid value for '--locustfile'" in result.output


def test_no_host_and_no_mesh_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEDAY_MESH_STATE", str(tmp_path / "no-mesh.json"))
    monkeypatch.chdir(tmp_path)
    result = cli.invoke(app, ["load", "run", "--duration", "1s"])
    assert result.exit_code == 2
    assert "--host" in result.output


def test_help_explains_options_and_defaults() -> None:
    result = cli.invoke(app, ["load", "run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in ("--users", "--spawn-rate", "--duration", "--workers", "--locustfile", "--out"):
        assert text in result.output
    assert "default: 10" in result.output


@pytest.mark.slow
def test_load_run_writes_stream_and_summary(known_server: KnownServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli.invoke(
        app,
        [
            "load",
            "run",
            "-u",
            "3",
            "-t",
            "2s",
            "-f",
            str(LOCUSTFILES / "mixed.py"),
            "--user-class",
            "FastUser",
            "-H",
            known_server.url,
            "-o",
            str(out),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["total"]["requests"] > 0
    assert summary["endpoints"]["GET /err"]["failures_by_kind"].keys() == {"http_500"}
    assert (out / "stream.jsonl").read_text().count("\n") >= 1
    assert "GET /ok" in result.output and "summary" in result.output
    assert locust_processes_for(out) == []


@pytest.mark.slow
def test_load_run_reports_a_broken_locustfile(tmp_path: Path) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text("import does_not_exist_anywhere\n")
    result = cli.invoke(
        app,
        [
            "load",
            "run",
            "-f",
            str(locustfile),
            "-H",
            "http://127.0.0.1:9",
            "-o",
            str(tmp_path / "o"),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2
    assert "ModuleNotFoundError" in result.output
    assert "does_not_exist_anywhere" in result.output


def test_host_without_scheme_is_exit_2() -> None:
    result = cli.invoke(app, ["load", "run", "-H", "127.0.0.1:8000", "-t", "1s"])
    assert result.exit_code == 2
    assert "http://" in result.output
