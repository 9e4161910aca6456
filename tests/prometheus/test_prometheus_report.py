"""The bundled experiment that watches payments latency from Prometheus: a PromQL probe
and a PromQL guardrail against the real server, and a report whose Prometheus charts come
from the run folder alone."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.engine import RunOptions, run_experiment
from tests.prometheus.scrape import require_prometheus

EXPERIMENT = (
    Path(__file__).resolve().parents[2] / "experiments" / "payments-latency-prometheus.yaml"
)
TITLES = ["checkout p95 (s)", "breaker orders->payments", "outbox backlog"]


@pytest.mark.slow
def test_the_bundled_prometheus_experiment_reports_prometheus_charts(tmp_path: Path) -> None:
    require_prometheus()
    result = run_experiment(EXPERIMENT, RunOptions(runs_dir=tmp_path / "runs"))
    # Held on an idle machine; a breaker opened by a starved CPU is a real deviation, but
    # never a run that could not measure.
    assert result.verdict in ("held", "deviated"), result.reason
    run_dir = result.run_dir
    assert run_dir is not None
    events = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    checks = [e for e in events if e["kind"] == "check"]
    for probe in ("gateway-5xx-ratio", "payments-breakers-closed"):
        values = [e["value"] for e in checks if e["probe"] == probe]
        assert values and all(isinstance(v, int | float) and not math.isnan(v) for v in values)
    during = next(
        e for e in events if e["kind"] == "activity" and e["name"] == "checkout-p95-s-during-fault"
    )
    assert isinstance(during["output"], int | float) and during["output"] > 0.3  # 500 ms delay

    saved = json.loads((run_dir / "prometheus.json").read_text())
    assert [chart["title"] for chart in saved["charts"]] == TITLES
    fault = [e["ts"] for e in events if e["kind"] == "fault"]
    assert len(fault) == 2
    for chart in saved["charts"]:
        assert chart["error"] is None and chart["series"], chart["title"]
        times = [ts for series in chart["series"] for ts, _ in series["points"]]
        assert min(times) < fault[0] < fault[1] < max(times), chart["title"]
    breakers = saved["charts"][1]["series"]
    assert {s["labels"]["replica"] for s in breakers} == {"0", "1"}  # orders' two replicas

    # The run's mesh and its Prometheus are gone; the report renders from the folder alone.
    rendered = CliRunner().invoke(app, ["report", str(run_dir)], env={"COLUMNS": "200"})
    assert rendered.exit_code == 0, rendered.output
    markdown = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    for title in TITLES:
        assert f"| {title} |" in markdown
        assert f"<td>{title.replace('>', '&gt;')}</td>" in html
    assert (run_dir / "charts" / "timeline.png").stat().st_size > 10_000
    # Each Prometheus chart is a panel of the inline SVG, labelled with its title.
    for title in TITLES:
        assert title.replace(">", "&gt;") in html.split("<figure", 1)[1]
