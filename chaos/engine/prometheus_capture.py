"""Save the series a report charts from Prometheus into the run folder, at the end of a run.

The experiment's `report.prometheus: [{title, promql, step_s}]` names them. They are read
once, while the target's Prometheus still runs (a local mesh stops with the run), so
`gameday report RUN_DIR` renders the charts from the folder alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos.engine.runs_folder import RunFolderWriteFailed, write_run_file
from chaos.engine.timeline import Timeline
from chaos.experiment.models import PrometheusChart
from chaos.probes.errors import ProbeError
from chaos.probes.prometheus_api import find_prometheus_url, range_query

__all__ = ["PROMETHEUS_FILE", "capture_charts", "save_charts"]

PROMETHEUS_FILE = "prometheus.json"
QUERY_TIMEOUT_S = 10.0


def capture_charts(
    run_dir: Path,
    charts: list[PrometheusChart],
    configuration: Mapping[str, Any],
    start: float,
    end: float,
) -> list[str]:
    """Query each chart's PromQL over `[start, end]` and write `prometheus.json`; returns
    one problem per chart that could not be read (the file records it as `error`).
    Writing the file may raise `RunFolderWriteFailed`."""
    problems: list[str] = []
    try:
        url: str | None = find_prometheus_url(configuration)
    except ProbeError as exc:
        url = None
        problems.append(str(exc))
    saved = []
    for chart in charts:
        entry: dict[str, Any] = chart.model_dump() | {"series": [], "error": None}
        if url is None:
            entry["error"] = problems[0]
        else:
            try:
                series = range_query(url, chart.promql, start, end, chart.step_s, QUERY_TIMEOUT_S)
                entry["series"] = [
                    {"labels": s.labels, "points": [[ts, value] for ts, value in s.points]}
                    for s in series
                ]
            except ProbeError as exc:
                entry["error"] = str(exc)
                problems.append(f"chart {chart.title!r}: {exc}")
        saved.append(entry)
    payload = {"url": url, "start": start, "end": end, "charts": saved}
    write_run_file(run_dir, PROMETHEUS_FILE, json.dumps(payload, indent=1) + "\n")
    return problems


def save_charts(
    run_dir: Path,
    charts: list[PrometheusChart],
    configuration: Mapping[str, Any],
    start: float,
    end: float,
    timeline: Timeline,
) -> None:
    """`capture_charts` for a run (`gameday run` and the `chaos run` control alike): a chart
    that could not be saved is a note in the timeline, never a failed run."""
    if not charts:
        return
    try:
        problems = capture_charts(run_dir, charts, configuration, start, end)
    except RunFolderWriteFailed as exc:
        problems = [str(exc)]
    for problem in problems:
        timeline.stamp("note", text=f"Prometheus chart not saved: {problem}", author="engine")
