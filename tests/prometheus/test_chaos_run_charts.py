"""The bundled Prometheus experiment under the Chaos Toolkit's own `chaos run` (slow): the
gameday control starts the file's local mesh with its Prometheus, and saves the report's
Prometheus series into the run folder before stopping it, as `gameday run` does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.engine.test_chaos_run_control import _chaos_run
from tests.prometheus.scrape import require_prometheus
from tests.prometheus.test_prometheus_report import EXPERIMENT, TITLES

pytestmark = pytest.mark.slow


def test_chaos_run_saves_the_prometheus_charts(tmp_path: Path) -> None:
    require_prometheus()
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEDAY_")}
    env["GAMEDAY_RUNS_DIR"] = str(runs)
    result = _chaos_run(EXPERIMENT, tmp_path, env)
    assert "Traceback" not in result.stdout
    (run_dir,) = [path for path in runs.iterdir() if path.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    # Held on an idle machine; a breaker opened by a starved CPU is a real deviation.
    assert summary["verdict"] in ("held", "deviated"), summary["reason"]
    saved = json.loads((run_dir / "prometheus.json").read_text())
    assert [chart["title"] for chart in saved["charts"]] == TITLES
    for chart in saved["charts"]:
        assert chart["error"] is None and chart["series"], chart["title"]
