"""`--var`, `--var-file` and `${name}` substitution, as in the Chaos Toolkit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.experiment import ExperimentError, load_experiment, parse_var
from chaos.experiment.variables import Variables, load_var_file

EXPERIMENT = """\
title: vars for ${who}
description: substitution
target: none
load: false
configuration:
  who: nobody
  latency: 100
  from_env:
    type: env
    key: GAMEDAY_TEST_LATENCY
    env_var_type: int
    default: 5
method:
  - type: probe
    name: status
    provider:
      type: python
      module: chaos.probes.http
      func: http_status
      arguments:
        url: "http://127.0.0.1:1/${who}"
        timeout_s: ${latency}
"""


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(EXPERIMENT)
    return path


def _arguments(loaded) -> dict:
    return loaded.data["method"][0]["provider"]["arguments"]


def test_configuration_values_are_substituted_with_their_type(experiment: Path) -> None:
    loaded = load_experiment(experiment)
    assert _arguments(loaded) == {"url": "http://127.0.0.1:1/nobody", "timeout_s": 100}
    assert loaded.title == "vars for nobody"


def test_var_overrides_configuration(experiment: Path) -> None:
    loaded = load_experiment(experiment, {"who": "alice", "latency": 7})
    assert _arguments(loaded) == {"url": "http://127.0.0.1:1/alice", "timeout_s": 7}
    assert loaded.data["configuration"]["who"] == "alice"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("who=bob", ("who", "bob")),
        ("n:int=3", ("n", 3)),
        ("x:float=0.5", ("x", 0.5)),
        ("flag:bool=false", ("flag", False)),
        ("eq=a=b", ("eq", "a=b")),
    ],
)
def test_parse_var(text: str, expected: tuple) -> None:
    assert parse_var(text) == expected


@pytest.mark.parametrize("text", ["novalue", "n:int=abc", "n:complex=1", "=x"])
def test_parse_var_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_var(text)


def test_var_file_yaml_and_json_then_var_wins(experiment: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    first.write_text("configuration:\n  who: carol\n  latency: 9\n")
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"configuration": {"latency": 11}}))
    loaded = load_experiment(experiment, {"who": "dave"}, [first, second])
    assert _arguments(loaded) == {"url": "http://127.0.0.1:1/dave", "timeout_s": 11}


def test_dotenv_var_file_feeds_env_configuration(
    experiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GAMEDAY_TEST_LATENCY", raising=False)
    assert load_experiment(experiment).data["configuration"]["from_env"] == 5
    dotenv = tmp_path / "vars.env"
    dotenv.write_text("# comment\nGAMEDAY_TEST_LATENCY=42\n")
    loaded = load_experiment(experiment, var_files=[dotenv])
    assert loaded.data["configuration"]["from_env"] == 42


def test_malformed_var_file_is_located(experiment: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("configuration:\n  who: [unclosed\n")
    with pytest.raises(ExperimentError) as info:
        load_experiment(experiment, var_files=[bad])
    assert str(info.value).startswith(f"{bad}:3:")
    wrong_shape = tmp_path / "shape.yaml"
    wrong_shape.write_text("who: eve\n")
    with pytest.raises(ExperimentError, match="configuration"):
        load_experiment(experiment, var_files=[wrong_shape])


def test_secret_placeholders_stay_for_run_time(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(
        EXPERIMENT.replace('${who}"', '${token}"') + "secrets:\n  api:\n    token: s3cr3t\n"
    )
    loaded = load_experiment(path)
    assert _arguments(loaded)["url"] == "http://127.0.0.1:1/${token}"
    assert "s3cr3t" not in json.dumps(loaded.data["method"])


def test_substituted_value_is_type_checked(experiment: Path) -> None:
    with pytest.raises(ExperimentError) as info:
        load_experiment(experiment, {"latency": "soon"})
    issue = info.value.issues[0]
    assert issue.line == 22
    assert issue.field == "method[0].provider.arguments.timeout_s"


def test_dotenv_values_are_read_as_python_dotenv_reads_them(tmp_path: Path) -> None:
    dotenv = tmp_path / "quoted.env"
    dotenv.write_text(
        "# comment\nA=\"x y\" # note\nexport B=2\nC='single # not a comment'\nD=plain # c\n"
    )
    variables = Variables()
    load_var_file(dotenv, variables)
    assert variables.environ == {"A": "x y", "B": "2", "C": "single # not a comment", "D": "plain"}


def test_quoted_dotenv_value_with_a_comment_feeds_an_int(
    experiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GAMEDAY_TEST_LATENCY", raising=False)
    dotenv = tmp_path / "vars.env"
    dotenv.write_text('GAMEDAY_TEST_LATENCY="42" # the slow path\n')
    loaded = load_experiment(experiment, var_files=[dotenv])
    assert loaded.data["configuration"]["from_env"] == 42


def test_unparsable_dotenv_line_is_located(experiment: Path, tmp_path: Path) -> None:
    dotenv = tmp_path / "bad.env"
    dotenv.write_text("A=1\nnot an assignment\n")
    with pytest.raises(ExperimentError) as info:
        load_experiment(experiment, var_files=[dotenv])
    assert str(info.value).startswith(f"{dotenv}:2:")
    assert "'not an assignment'" in str(info.value)
