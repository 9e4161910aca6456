"""The timeline chart: throughput, error rate and p50/p95/p99 over the run, fault windows
shaded, phases marked, every hypothesis check as a pass/fail marker and observers' notes
as numbered lines, then one panel per Prometheus chart the experiment asked for. Rendered
on matplotlib's Agg canvas (no display needed)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from chaos.engine.timeline import PHASE_LABELS
from chaos.report.model import Report
from chaos.report.prometheus_charts import draw_prometheus_panel

FAULT_COLOUR = "#f4a261"
PASS_COLOUR = "#2a9d8f"
FAIL_COLOUR = "#d62828"
NOTE_COLOUR = "#6a4c93"
LATENCY_COLOURS = {"p50": "#8ecae6", "p95": "#219ebc", "p99": "#023047"}


def timeline_figure(report: Report) -> Figure:
    probe_rows = max(1, len(report.probes))
    panels = len(report.prometheus)
    # A bare Figure on the Agg canvas, not pyplot: no global figure registry to leak into.
    figure = Figure(figsize=(10, 6.4 + 0.22 * probe_rows + 1.6 * panels), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(
        4 + panels,
        1,
        sharex=True,
        gridspec_kw={"height_ratios": [2, 1.4, 2.4, 0.45 + 0.3 * probe_rows] + [1.6] * panels},
    )
    throughput, errors, latency, checks = axes[:4]
    for ax, chart in zip(axes[4:], report.prometheus, strict=True):
        draw_prometheus_panel(ax, chart)
    # A stream line covers [ts, ts + 1): draw it as a step over its whole second.
    xs = [point.offset_s for point in report.series]
    if xs:
        xs.append(xs[-1] + 1.0)

    throughput.plot(
        xs,
        _steps([p.rps for p in report.series]),
        drawstyle="steps-post",
        color="#264653",
        linewidth=1.4,
    )
    throughput.set_ylabel("requests/s")
    throughput.set_ylim(bottom=0)

    errors.plot(
        xs,
        _steps([p.error_rate * 100 for p in report.series]),
        drawstyle="steps-post",
        color=FAIL_COLOUR,
        linewidth=1.4,
    )
    errors.set_ylabel("errors %")
    errors.set_ylim(bottom=0, top=max([5.0, *(p.error_rate * 115 for p in report.series)]))

    for key, colour in LATENCY_COLOURS.items():
        values = [getattr(p, key) for p in report.series]
        latency.plot(
            xs,
            _steps([float("nan") if v is None else v for v in values]),
            drawstyle="steps-post",
            color=colour,
            linewidth=1.2,
            label=key,
        )
    latency.set_ylabel("latency ms")
    latency.set_ylim(bottom=0)
    latency.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1),
        fontsize=8,
        ncols=3,
        frameon=False,
        borderaxespad=0.1,
    )

    _checks_strip(checks, report)
    for ax in axes:
        _shade_faults(ax, report)
        _mark_notes(ax, report)
        ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    _label_faults_and_phases(throughput, report)
    axes[-1].set_xlabel("seconds since the run started")
    if xs or report.probes:
        checks.set_xlim(left=min([0.0, *xs]), right=_last_offset(report) + 1)
    return figure


def _steps(values: list[float]) -> list[float]:
    """Repeat the last value so the last second is drawn to its end."""
    return [*values, values[-1]] if values else values


def _last_offset(report: Report) -> float:
    offsets = [p.offset_s for p in report.series]
    offsets += [v.offset_s for probe in report.probes for v in probe.values]
    offsets += [m.end_offset_s or m.start_offset_s for m in report.phase_marks]
    return max(offsets, default=1.0)


def fault_spans(report: Report) -> list[tuple[float, float, list[str]]]:
    """Fault windows merged where they overlap, with the names of the faults in each, so
    six overlapping kills shade one window once and get one label."""
    end_default = _last_offset(report)
    windows = sorted(
        (
            fault.start_offset_s,
            fault.end_offset_s if fault.end_offset_s is not None else end_default,
            fault.name or fault.id,
        )
        for fault in report.faults
        if fault.start_offset_s is not None
    )
    merged: list[tuple[float, float, list[str]]] = []
    for start, end, name in windows:
        if merged and start <= merged[-1][1]:
            first, last, names = merged[-1]
            merged[-1] = (first, max(last, end), [*names, name])
        else:
            merged.append((start, end, [name]))
    return merged


def _shade_faults(ax: Axes, report: Report) -> None:
    for start, end, _ in fault_spans(report):
        ax.axvspan(start, end, color=FAULT_COLOUR, alpha=0.25, linewidth=0)


def _mark_notes(ax: Axes, report: Report) -> None:
    for note in report.notes:
        ax.axvline(note.offset_s, color=NOTE_COLOUR, linestyle="--", linewidth=0.9)
    for event in report.events:
        if event.kind in ("guardrail", "abort"):
            ax.axvline(event.offset_s, color=FAIL_COLOUR, linestyle="-.", linewidth=1.0)


def _label_faults_and_phases(ax: Axes, report: Report) -> None:
    transform = ax.get_xaxis_transform()
    # A label closer than this to the previous one would overlap it; its line still shows.
    min_gap = 0.08 * max(1.0, _last_offset(report))
    last_label: float | None = None
    for mark in report.phase_marks:
        if mark.name in ("warmup", "rollbacks"):
            continue
        ax.axvline(mark.start_offset_s, color="#9e9e9e", linestyle=":", linewidth=0.8)
        if last_label is not None and mark.start_offset_s - last_label < min_gap:
            continue
        last_label = mark.start_offset_s
        ax.text(
            mark.start_offset_s,
            1.02,
            PHASE_LABELS.get(mark.name, mark.name),
            transform=transform,
            fontsize=7,
            color="#616161",
            ha="left",
            va="bottom",
        )
    for start, _, names in fault_spans(report):
        label = f" fault: {names[0]}" if len(names) == 1 else f" {len(names)} faults: {names[0]} …"
        ax.text(start, 0.95, label, transform=transform, fontsize=7.5, color="#9c4a00", va="top")
    for event in report.events:
        if event.kind in ("guardrail", "abort"):
            ax.text(
                event.offset_s,
                0.62 if event.kind == "abort" else 0.7,
                f" {event.kind}",
                transform=transform,
                fontsize=7.5,
                color=FAIL_COLOUR,
                va="top",
            )
    for note in report.notes:
        ax.text(
            note.offset_s,
            0.78,
            f" N{note.number}",
            transform=transform,
            fontsize=8,
            color=NOTE_COLOUR,
            va="top",
            fontweight="bold",
        )


def _checks_strip(ax: Axes, report: Report) -> None:
    names = [probe.name for probe in report.probes]
    for row, probe in enumerate(report.probes):
        passed = [v.offset_s for v in probe.values if v.ok]
        failed = [v.offset_s for v in probe.values if not v.ok]
        ax.scatter(
            passed,
            [row] * len(passed),
            marker="o",
            s=18,
            color=PASS_COLOUR,
            zorder=3,
            label="check passed" if row == 0 else None,
        )
        ax.scatter(
            failed,
            [row] * len(failed),
            marker="X",
            s=34,
            color=FAIL_COLOUR,
            zorder=3,
            label="check failed" if row == 0 else None,
        )
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_ylim(-0.7, max(0.7, len(names) - 0.3))
    ax.invert_yaxis()
    ax.set_ylabel("checks", fontsize=8)


def render_svg(report: Report, chart_id: str) -> str:
    """The chart as an `<svg>` element to inline in HTML. Every element id (and every
    reference to one) gets the `chart_id` prefix, so several charts on one page never share
    an id or borrow each other's clip paths and markers."""
    figure = timeline_figure(report)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id) + "-"
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', svg)
    # Scale with the page instead of the fixed size in points.
    return re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r'\1 width="100%"', svg, count=1)


def write_png(report: Report, path: Path) -> Path:
    figure = timeline_figure(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=110)
    return path
