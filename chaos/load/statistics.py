"""Request statistics computed from raw samples (never from Locust's rounded histograms)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from pydantic import BaseModel, Field

PERCENTILES = (50, 90, 95, 99)


class RequestStats(BaseModel):
    """Counts, throughput and latency percentiles (ms, nearest rank) of a set of requests."""

    requests: int = 0
    failures: int = 0
    failures_by_kind: dict[str, int] = Field(default_factory=dict)
    rps: float = 0.0
    error_rate: float = Field(0.0, description="failures / requests; 0.0 when no requests.")
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


def nearest_rank_percentiles(latencies_ms: np.ndarray) -> dict[str, float | None]:
    """p50/p90/p95/p99/max as actually observed values (nearest rank: numpy's
    `inverted_cdf`, the smallest sample with at least p % of the samples at or below it)."""
    if latencies_ms.size == 0:
        return {f"p{p}": None for p in PERCENTILES} | {"max": None}
    values = np.percentile(latencies_ms, PERCENTILES, method="inverted_cdf")
    result: dict[str, float | None] = {
        f"p{p}": round(float(value), 3) for p, value in zip(PERCENTILES, values, strict=True)
    }
    result["max"] = round(float(np.max(latencies_ms)), 3)
    return result


def request_stats(
    latencies_ms: Sequence[float] | np.ndarray, kinds: Iterable[str | None], seconds: float
) -> RequestStats:
    """Statistics of requests observed over `seconds` (kind None means success)."""
    failures_by_kind = Counter(kind for kind in kinds if kind is not None)
    return stats_from_counts(latencies_ms, failures_by_kind, seconds)


def stats_from_counts(
    latencies_ms: Sequence[float] | np.ndarray, failures_by_kind: dict[str, int], seconds: float
) -> RequestStats:
    """Like request_stats, with the failures already counted by kind."""
    latencies = np.asarray(latencies_ms, dtype=np.float64)
    requests = int(latencies.size)
    failures = sum(failures_by_kind.values())
    return RequestStats(
        requests=requests,
        failures=failures,
        failures_by_kind=dict(sorted(failures_by_kind.items())),
        rps=round(requests / seconds, 3) if seconds > 0 else 0.0,
        error_rate=round(failures / requests, 6) if requests else 0.0,
        **nearest_rank_percentiles(latencies),
    )


class SecondStats(RequestStats):
    """One line of `stream.jsonl`: the requests that completed in [ts, ts + 1)."""

    ts: int
    endpoints: dict[str, RequestStats] = Field(default_factory=dict)


class WindowStats(RequestStats):
    """Requests that completed in [start, end), optionally of one endpoint only."""

    seconds: float
    start: float
    end: float
    endpoint: str | None = None


class LoadSummary(BaseModel):
    """The whole run (also `output_dir/summary.json`)."""

    host: str
    locustfile: str
    users: int
    spawn_rate: float
    workers: int
    started_at: float | None = Field(None, description="Unix time Locust started its test.")
    ended_at: float = Field(description="Unix time every Locust process had exited.")
    duration_s: float = Field(description="From test start to the stop request or timed end.")
    ready: bool
    error: str | None = None
    exit_codes: dict[str, int | None] = Field(default_factory=dict)
    late_samples: int = Field(0, description="Samples that arrived after their second was written.")
    total: RequestStats
    endpoints: dict[str, RequestStats] = Field(default_factory=dict)
