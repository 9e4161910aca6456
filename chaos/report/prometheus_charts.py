"""The experiment's Prometheus charts: read from the run folder's `prometheus.json` (saved
by the engine at the end of the run) and drawn as extra panels under the timeline chart,
on the same time axis, so the fault windows shade them too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes

from chaos.engine.prometheus_capture import PROMETHEUS_FILE
from chaos.report.model import PrometheusChartData, PrometheusSeries

__all__ = ["PROMETHEUS_FILE", "draw_prometheus_panel", "prometheus_charts"]

MAX_LEGEND_SERIES = 8
SERIES_COLOURS = ("#264653", "#2a9d8f", "#e76f51", "#6a4c93", "#219ebc", "#8d99ae")


def _label(labels: dict[str, Any]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("__name__", "job", "instance")}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "value"


def prometheus_charts(run_dir: Path, t0: float) -> list[PrometheusChartData]:
    """The saved charts with times as offsets from `t0`; none when the run saved none. An
    unreadable file becomes one chart that says so, not a failed report."""
    path = Path(run_dir) / PROMETHEUS_FILE
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not JSON: {exc}"
        return [PrometheusChartData(title="Prometheus", promql="", error=f"{path}: {reason}")]
    charts = []
    for entry in payload.get("charts") or [] if isinstance(payload, dict) else []:
        try:
            charts.append(
                PrometheusChartData(
                    title=str(entry["title"]),
                    promql=str(entry["promql"]),
                    error=entry.get("error"),
                    series=[
                        PrometheusSeries(
                            label=_label(series.get("labels") or {}),
                            points=[
                                (float(ts) - t0, float(value)) for ts, value in series["points"]
                            ],
                        )
                        for series in entry.get("series") or []
                    ],
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            charts.append(
                PrometheusChartData(
                    title="Prometheus", promql="", error=f"{path}: a damaged chart entry ({exc})"
                )
            )
    return charts


def draw_prometheus_panel(ax: Axes, chart: PrometheusChartData) -> None:
    """One chart's series as lines; a chart without data says why in its panel."""
    ax.set_ylabel(chart.title, fontsize=8)
    drawn = [series for series in chart.series if series.points]
    if not drawn:
        why = chart.error or "no samples during the run"
        ax.text(0.01, 0.5, why[:140], transform=ax.transAxes, fontsize=7.5, color="#9e9e9e")
        return
    for index, series in enumerate(drawn):
        xs, ys = zip(*series.points, strict=True)
        ax.plot(
            xs,
            ys,
            color=SERIES_COLOURS[index % len(SERIES_COLOURS)],
            linewidth=1.2,
            label=series.label if index < MAX_LEGEND_SERIES else None,
        )
    ax.legend(loc="upper right", fontsize=7, frameon=False, ncols=min(3, len(drawn)))
