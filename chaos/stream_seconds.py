"""The per-second lines of `load/stream.jsonl` over a time window.

A line's `ts` is the start of its second. Window percentiles cannot be recovered from
per-second ones, so a window's percentile is the request-weighted median of its seconds'.
"""

from __future__ import annotations

from typing import Any


def seconds_in(stream: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """Stream seconds whose [ts, ts + 1) overlaps [start, end)."""
    return [
        line
        for line in stream
        if "ts" in line and float(line["ts"]) + 1.0 > start and float(line["ts"]) < end
    ]


def weighted_median(seconds: list[dict[str, Any]], key: str) -> float | None:
    """The request-weighted median of the seconds' `key` (e.g. "p95"); None without data."""
    values = sorted(
        (float(line[key]), int(line.get("requests") or 0))
        for line in seconds
        if line.get(key) is not None and int(line.get("requests") or 0) > 0
    )
    if not values:
        return None
    half = sum(weight for _, weight in values) / 2
    running = 0
    for value, weight in values:
        running += weight
        if running >= half:
            return value
    return values[-1][0]
