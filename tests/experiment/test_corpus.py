"""Every malformed experiment in corpus/ is refused with exit 2 and a located message.

Each YAML file states what it expects on its first line: `# expect: line=N field=PATH`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app

CORPUS = Path(__file__).parent / "corpus"
EXPECT = re.compile(r"#\s*expect:\s*line=(\d+)\s+field=(\S*)")
GAMEDAY = Path(sys.executable).parent / "gameday"
# JSON has no comments to hold the expectation.
JSON_EXPECTATIONS = {
    "json_syntax.json": (4, ""),
    "json_trailing_comma.json": (8, ""),
    "json_unknown_field.json": (9, "method[0].pause"),
}


def _expectation(path: Path) -> tuple[int, str]:
    if path.name in JSON_EXPECTATIONS:
        return JSON_EXPECTATIONS[path.name]
    match = EXPECT.match(path.read_text().splitlines()[0])
    assert match, f"{path.name} lacks an expect header"
    return int(match[1]), match[2]


CASES = sorted(CORPUS.iterdir())


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_validate_locates_the_problem(path: Path) -> None:
    line, field = _expectation(path)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    output = result.output
    assert "Traceback" not in output
    location = f"{path}:{line}:"
    assert location in output, output
    message_line = next(text for text in output.splitlines() if location in text)
    if field:
        assert f"{location} {field}:" in message_line, message_line
    else:
        assert "not valid" in message_line


def test_run_of_an_invalid_file_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = CORPUS / "unknown_module.yaml"
    completed = subprocess.run(
        [str(GAMEDAY), "run", str(path), "--runs-dir", str(runs)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert f"{path}:9: method[0].provider.module:" in completed.stderr
    assert not runs.exists()


def test_validate_accepts_good_files_and_fails_on_any_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "title: fine\ndescription: ok\ntarget: none\nload: false\nmethod:\n"
        "  - {type: probe, name: m, provider: {type: python, module: chaos.probes.load,"
        " func: error_rate}}\n"
    )
    ok = CliRunner().invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "fine" in ok.output
    mixed = CliRunner().invoke(app, ["validate", str(good), str(CORPUS / "missing_title.yaml")])
    assert mixed.exit_code == 2
