from __future__ import annotations

import yaml
from typer.testing import CliRunner

from chaos.cli.main import app

runner = CliRunner()


def dirs(tmp_path):
    return ["--experiments-dir", str(tmp_path / "e"), "--runbooks-dir", str(tmp_path / "r")]


def test_incident_new_from_options(tmp_path):
    result = runner.invoke(
        app,
        [
            "incident", "new", "--no-input", "--id", "INC-7", "--summary", "Browsing failed",
            "--service", "catalog", "--fault", "kill", "--size", "2", "--duration", "20s",
            "--users", "30", "--slo", "error_rate <= 2%", "--endpoint", "GET /products",
            *dirs(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    experiment = yaml.safe_load((tmp_path / "e" / "incident-inc-7.yaml").read_text())
    assert experiment["method"][0]["provider"]["arguments"] == {"service": "catalog", "count": 2}
    assert experiment["method"][0]["pauses"] == {"after": 20}
    slo = experiment["steady-state-hypothesis"]["probes"][0]
    assert slo["tolerance"]["range"] == [0, 0.02]
    assert slo["provider"]["arguments"]["endpoint"] == "GET /products"
    assert (tmp_path / "r" / "incident-inc-7.md").is_file()


def test_incident_new_asks_for_missing_facts(tmp_path):
    answers = "\n".join(
        [
            "INC-9",  # id
            "Checkout hung",  # summary
            "orders->payments",  # service or edge
            "slowness",  # fault kind: refused, asked again
            "latency",
            "1200",  # size in ms
            "1m",  # duration
            "",  # users: default 20
            "p99 <= 2s",  # SLO
        ]
    )
    result = runner.invoke(app, ["incident", "new", *dirs(tmp_path)], input=answers + "\n")
    assert result.exit_code == 0, result.output
    assert "fault kind is one of" in result.output
    experiment = yaml.safe_load((tmp_path / "e" / "incident-inc-9.yaml").read_text())
    fault = experiment["method"][0]
    assert fault["provider"]["arguments"] == {
        "edge": "orders->payments",
        "latency_ms": 1200,
        "ttl_s": 120,
    }
    assert fault["pauses"] == {"after": 60}
    assert experiment["extensions"][0]["load"]["users"] == 20
    assert experiment["steady-state-hypothesis"]["probes"][0]["tolerance"]["range"] == [0, 2000.0]


def test_incident_new_without_input_names_the_missing_option(tmp_path):
    result = runner.invoke(app, ["incident", "new", "--no-input", "--id", "INC-1", *dirs(tmp_path)])
    assert result.exit_code == 2
    assert "--summary is required with --no-input" in result.output
    assert not (tmp_path / "e").exists()


def test_incident_new_bad_facts_exit_2(tmp_path):
    base = ["incident", "new", "--no-input", "--id", "INC-1", "--summary", "x", *dirs(tmp_path)]
    result = runner.invoke(
        app,
        [*base, "--edge", "a->b", "--fault", "kill", "--size", "1", "--duration", "5s",
         "--slo", "p95 <= 100ms"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "acts on a service's replicas" in result.output
    result = runner.invoke(
        app,
        [*base, "--service", "a", "--fault", "reset", "--duration", "5s", "--slo", "fast"],
    )
    assert result.exit_code == 2
    assert "SLO 'fast'" in result.output
