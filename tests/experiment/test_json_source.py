"""`.json` experiment files are held to JSON, with YAML's line marks for their fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.experiment import ExperimentError
from chaos.experiment.source import read_document


def _issues(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "experiment.json"
    path.write_text(text)
    with pytest.raises(ExperimentError) as raised:
        read_document(path)
    return [str(issue) for issue in raised.value.issues]


def test_non_json_constants_and_comments_are_errors(tmp_path: Path) -> None:
    [nan] = _issues(tmp_path, '{"title": "t",\n "limit": NaN}')
    assert "not valid JSON: NaN is not a JSON value" in nan
    [comment] = _issues(tmp_path, '{"title": "t" # a YAML comment\n}')
    assert comment.startswith(f"{tmp_path / 'experiment.json'}:1: not valid JSON")


def test_a_repeated_key_is_located(tmp_path: Path) -> None:
    [repeated] = _issues(tmp_path, '{\n  "title": "a",\n  "title": "b"\n}')
    assert (
        repeated
        == f"{tmp_path / 'experiment.json'}:3: title: duplicate key (only the last one would count)"
    )


def test_valid_json_keeps_the_line_of_each_field(tmp_path: Path) -> None:
    path = tmp_path / "experiment.json"
    path.write_text('{\n  "title": "t",\n  "method": [\n    {"name": "m"}\n  ]\n}\n')
    document = read_document(path)
    assert document.data == {"title": "t", "method": [{"name": "m"}]}
    assert document.line_of(("method", 0, "name")) == 4
