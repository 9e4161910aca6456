"""The numbers a gate compares, derived from one run folder.

- p95 under fault: latency p95 (ms) over the fault window, the span from the first fault's
  start to the last fault's end in `timeline.jsonl`. Computed from the load runner's raw
  samples through `chaos.load.StreamReader` when the folder has them; otherwise from
  `load/stream.jsonl` as the request-weighted median of the per-second p95 values (the exact
  window percentile cannot be recovered from per-second percentiles). `p95_source` says which.
- time to recover: from the last fault's end until the hypothesis checks pass again and keep
  passing (0 when no check failed after the fault started; None when they never passed
  again, or when the folder has no checks to tell).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from chaos.gates.run_folder import (
    FaultWindow,
    fault_windows,
    read_stream,
    read_summary,
    read_timeline,
)
from chaos.load import StreamReader
from chaos.load.samples import sample_files
from chaos.stream_seconds import seconds_in, weighted_median

P95Source = Literal["raw_samples", "per_second_median", "none"]


class RunMetrics(BaseModel):
    run_dir: str
    title: str
    slug: str
    verdict: str
    exit_code: int
    fault_start: float | None
    fault_end: float | None
    requests_under_fault: int
    error_rate_under_fault: float | None
    p95_under_fault_ms: float | None
    p95_source: P95Source
    time_to_impact_s: float | None
    time_to_recover_s: float | None
    recovered: bool | None


def read_run_metrics(run_dir: Path) -> RunMetrics:
    """Summarise one run folder; raises `RunFolderError` when it cannot be read."""
    summary = read_summary(run_dir)
    timeline = read_timeline(run_dir)
    windows = fault_windows(timeline)
    stream = read_stream(run_dir)
    fault_start, fault_end = _fault_span(windows, stream)

    requests = 0
    error_rate: float | None = None
    p95: float | None = None
    source: P95Source = "none"
    # An instantaneous fault (a kill stamped start and end at once) has no window to measure.
    if fault_start is not None and fault_end is not None and fault_end > fault_start:
        load_dir = run_dir / "load"
        if sample_files(load_dir):
            stats = StreamReader(load_dir).window(fault_start, fault_end)
            requests = stats.requests
            error_rate = stats.error_rate if stats.requests else None
            p95 = stats.p95
            source = "raw_samples" if p95 is not None else "none"
        else:
            seconds = seconds_in(stream, fault_start, fault_end)
            requests = sum(int(line.get("requests") or 0) for line in seconds)
            failures = sum(int(line.get("failures") or 0) for line in seconds)
            error_rate = failures / requests if requests else None
            p95 = weighted_median(seconds, "p95")
            source = "per_second_median" if p95 is not None else "none"

    impact, recover, recovered = _recovery(timeline, windows)
    return RunMetrics(
        run_dir=str(run_dir),
        title=summary.title,
        slug=summary.slug,
        verdict=summary.verdict,
        exit_code=summary.exit_code,
        fault_start=fault_start,
        fault_end=fault_end,
        requests_under_fault=requests,
        error_rate_under_fault=error_rate,
        p95_under_fault_ms=p95,
        p95_source=source,
        time_to_impact_s=impact,
        time_to_recover_s=recover,
        recovered=recovered,
    )


def _fault_span(
    windows: list[FaultWindow], stream: list[dict[str, Any]]
) -> tuple[float | None, float | None]:
    if not windows:
        return None, None
    start = min(window.start for window in windows)
    ends = [window.end for window in windows]
    if all(end is not None for end in ends):
        return start, max(end for end in ends if end is not None)
    # A fault without an end event (the runner died): the window runs to the last second
    # the load runner measured.
    last_second = max((float(line["ts"]) + 1.0 for line in stream if "ts" in line), default=None)
    return start, last_second


def _recovery(
    timeline: list[dict[str, Any]], windows: list[FaultWindow]
) -> tuple[float | None, float | None, bool | None]:
    """(time to impact, time to recover, recovered) from the hypothesis checks."""
    if not windows or any(window.end is None for window in windows):
        return None, None, None
    fault_start = min(window.start for window in windows)
    fault_end = max(window.end for window in windows if window.end is not None)
    checks = sorted(
        (
            (float(event["ts"]), bool(event.get("ok")))
            for event in timeline
            if event.get("kind") == "check" and "ts" in event and float(event["ts"]) >= fault_start
        ),
        key=lambda check: check[0],
    )
    if not checks:
        return None, None, None
    failures = [ts for ts, ok in checks if not ok]
    if not failures:
        return None, 0.0, True
    impact = failures[0] - fault_start
    last_failure = failures[-1]
    passes_after = [ts for ts, ok in checks if ok and ts > last_failure]
    if not passes_after:
        return impact, None, False
    return impact, max(0.0, passes_after[0] - fault_end), True
