from __future__ import annotations

import pytest
from typer.testing import CliRunner

from chaos.cli import gates as gates_cli
from chaos.cli.main import app
from chaos.gates import append_run

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Tables wider than CliRunner's 80 columns would wrap the numbers the tests look for."""
    monkeypatch.setattr(gates_cli.console, "width", 200)


def test_compare_unchanged_exits_0(make_run):
    a = make_run("a", fault_p95_ms=800.0)
    b = make_run("b", fault_p95_ms=810.0)
    result = runner.invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "within margin" in result.output
    assert "800.0 ms" in result.output and "810.0 ms" in result.output


def test_compare_regression_exits_1(make_run):
    a = make_run("a", fault_p95_ms=800.0)
    b = make_run("b", fault_p95_ms=1300.0)
    result = runner.invoke(app, ["compare", str(a), str(b), "--margin", "30%"])
    assert result.exit_code == 1, result.output
    assert "regressed beyond 30%: p95 under fault" in result.output
    # the same two runs pass with a wide enough margin
    assert runner.invoke(app, ["compare", str(a), str(b), "--margin", "0.7"]).exit_code == 0


def test_compare_bad_input_exits_2(make_run, tmp_path):
    a = make_run("a")
    result = runner.invoke(app, ["compare", str(a), str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "summary.json" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["compare", str(a), str(a), "--margin", "lots"])
    assert result.exit_code == 2
    assert "not a margin" in result.output


def test_history_table(make_run, tmp_path):
    runs = tmp_path / "runs"
    append_run(make_run("r1", failing_checks_until=23.0), "experiments/payments-latency.yaml")
    append_run(
        make_run("r2", verdict="deviated", exit_code=1, fault_p95_ms=1500.0),
        "experiments/payments-latency.yaml",
    )
    append_run(
        make_run("r3", slug="catalog-kill", failing_checks_until=11.0, recovers=False),
        "experiments/c.yaml",
    )
    result = runner.invoke(app, ["history", "payments-latency", "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert "1/2 held" in result.output
    assert "1,500.0 ms" in result.output and "3.5 s" in result.output
    assert "did not recover" not in result.output
    result = runner.invoke(app, ["history", "--runs-dir", str(runs), "-n", "1"])
    assert "1/1 held; 2 older runs not shown" in result.output
    assert "did not recover" in result.output
    result = runner.invoke(app, ["history", "--runs-dir", str(tmp_path / "none")])
    assert result.exit_code == 0 and "no runs" in result.output
