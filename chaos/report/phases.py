"""Phase windows from the timeline and the load statistics over each of them.

Rows of the phase table, each a window [start, end) in unix seconds:
- baseline: the engine's `baseline` phase;
- during fault: first fault start → last fault end (a fault without an end runs to the
  last second of load);
- recovery: the engine's `recovery` phase (else last fault end → start of
  `steady_state_after`);
- after: end of recovery (else last fault end) → end of the load (see `load_end`): the
  steady state after, the rollbacks and the engine's `after` tail (`load.after_s`).

Windows shorter than a second are left out (except the fault's).

Statistics come from the raw samples through `chaos.load.StreamReader` when `load/samples/`
exists (exact percentiles); otherwise from `load/stream.jsonl`: summed counts, and p50/p95/p99
as the request-weighted median of the per-second values (window percentiles cannot be
recovered from per-second ones), which the table labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.load import StreamReader
from chaos.load.samples import sample_files
from chaos.report.model import PhaseMark, PhaseName, PhaseStats, SeriesPoint
from chaos.report.run_folder import read_json
from chaos.stream_seconds import seconds_in, weighted_median

PHASE_LABELS: dict[PhaseName, str] = {
    "baseline": "baseline",
    "during_fault": "during fault",
    "recovery": "recovery",
    "after": "after",
}

Span = tuple[float, float | None]
# Shorter windows say nothing about load (an "after" window of a run with `load.after_s: 0`
# is the few milliseconds between the last check and the load stopping), so they are left
# out of the table.
MIN_PHASE_S = 1.0


def phase_spans(timeline: list[dict[str, Any]]) -> dict[str, Span]:
    """The engine's phases by name: (start, end or None), first start and last end win."""
    spans: dict[str, Span] = {}
    for event in timeline:
        if event.get("kind") != "phase" or not event.get("name"):
            continue
        name, ts = str(event["name"]), float(event["ts"])
        if event.get("edge") == "start" and name not in spans:
            spans[name] = (ts, None)
        elif event.get("edge") == "end" and name in spans:
            spans[name] = (spans[name][0], ts)
    return spans


def fault_span(
    timeline: list[dict[str, Any]], end_of_load: float | None
) -> tuple[float, float] | None:
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for event in timeline:
        if event.get("kind") != "fault":
            continue
        fault_id = str(event.get("id", event.get("name", "")))
        if event.get("edge") == "start":
            starts.setdefault(fault_id, float(event["ts"]))
        elif event.get("edge") == "end":
            ends[fault_id] = float(event["ts"])
    if not starts:
        return None
    start = min(starts.values())
    if all(fault_id in ends for fault_id in starts):
        return start, max(ends[fault_id] for fault_id in starts)
    last = end_of_load
    return (start, last) if last is not None and last > start else None


def load_end(stream: list[dict[str, Any]], load_dir: Path, run_end: float | None) -> float | None:
    """When load stopped being measured for this run: the end of the last stream second,
    but no later than the load runner's stop request (`load/summary.json`; the last second
    is usually cut short by it) nor the run's end (a game day's shared load runs on)."""
    ends = [max((float(line["ts"]) + 1.0 for line in stream), default=None)]
    if ends[0] is None:
        return None
    summary = read_json(load_dir / "summary.json")
    started, duration = summary.get("started_at"), summary.get("duration_s")
    if isinstance(started, int | float) and isinstance(duration, int | float):
        ends.append(float(started) + float(duration))
    ends.append(run_end)
    return min(end for end in ends if end is not None)


def phase_windows(
    timeline: list[dict[str, Any]], end_of_load: float | None
) -> list[tuple[PhaseName, float, float]]:
    spans = phase_spans(timeline)
    fault = fault_span(timeline, end_of_load)
    windows: list[tuple[PhaseName, float, float | None]] = []
    baseline = spans.get("baseline")
    if baseline:
        windows.append(("baseline", baseline[0], baseline[1]))
    if fault:
        windows.append(("during_fault", fault[0], fault[1]))
    recovery = spans.get("recovery")
    after_start: float | None = fault[1] if fault else None
    if recovery and recovery[1] is not None:
        windows.append(("recovery", recovery[0], recovery[1]))
        after_start = recovery[1]
    elif fault and "steady_state_after" in spans:
        windows.append(("recovery", fault[1], spans["steady_state_after"][0]))
        after_start = spans["steady_state_after"][0]
    if after_start is not None and end_of_load is not None:
        windows.append(("after", after_start, end_of_load))
    return [
        (name, start, end)
        for name, start, end in windows
        if end is not None
        and (end - start >= MIN_PHASE_S or (name == "during_fault" and end > start))
    ]


def phase_table(
    load_dir: Path,
    timeline: list[dict[str, Any]],
    stream: list[dict[str, Any]],
    end_of_load: float | None,
    t0: float,
) -> list[PhaseStats]:
    windows = phase_windows(timeline, end_of_load)
    reader = StreamReader(load_dir) if sample_files(load_dir) else None
    rows = []
    for name, start, end in windows:
        common = {
            "name": name,
            "label": PHASE_LABELS[name],
            "start": start,
            "end": end,
            "start_offset_s": round(start - t0, 3),
            "end_offset_s": round(end - t0, 3),
        }
        if reader is not None:
            stats = reader.window(start, end)
            rows.append(
                PhaseStats(
                    **common,
                    requests=stats.requests,
                    failures=stats.failures,
                    rps=stats.rps,
                    error_rate=stats.error_rate if stats.requests else None,
                    p50=stats.p50,
                    p95=stats.p95,
                    p99=stats.p99,
                    source="raw samples",
                )
            )
        else:
            rows.append(PhaseStats(**common, **_stream_window(stream, start, end)))
    return rows


def _stream_window(stream: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
    """Seconds whose [ts, ts + 1) overlaps [start, end)."""
    seconds = seconds_in(stream, start, end)
    requests = sum(int(line.get("requests") or 0) for line in seconds)
    failures = sum(int(line.get("failures") or 0) for line in seconds)
    return {
        "requests": requests,
        "failures": failures,
        "rps": round(requests / (end - start), 3),
        "error_rate": round(failures / requests, 6) if requests else None,
        "p50": weighted_median(seconds, "p50"),
        "p95": weighted_median(seconds, "p95"),
        "p99": weighted_median(seconds, "p99"),
        "source": "stream.jsonl",
    }


def phase_marks(timeline: list[dict[str, Any]], t0: float) -> list[PhaseMark]:
    return [
        PhaseMark(
            name=name,
            start_offset_s=round(start - t0, 3),
            end_offset_s=round(end - t0, 3) if end is not None else None,
        )
        for name, (start, end) in sorted(phase_spans(timeline).items(), key=lambda kv: kv[1][0])
    ]


def load_series(stream: list[dict[str, Any]], t0: float) -> list[SeriesPoint]:
    return [
        SeriesPoint(
            offset_s=round(float(line["ts"]) - t0, 3),
            rps=float(line.get("rps") or line.get("requests") or 0),
            error_rate=float(line.get("error_rate") or 0.0),
            p50=line.get("p50"),
            p95=line.get("p95"),
            p99=line.get("p99"),
        )
        for line in sorted(stream, key=lambda line: float(line["ts"]))
    ]
