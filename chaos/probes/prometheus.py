"""PromQL probes: an instant value, or a range of one series reduced to a number.

The Prometheus is the `url` argument, else configuration `prometheus_url`, else the running
mesh's own (`gameday mesh up --prometheus`). A bad query fails with Prometheus's own
message and the query; an empty result raises `NoData` unless a `default` is given; a
server that does not answer raises `ProbeUnreachable`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from chaos.probes.errors import InvalidProbeArgument, NoData
from chaos.probes.prometheus_api import (
    QueryFailed,
    Series,
    find_prometheus_url,
    instant_query,
    range_query,
)

__all__ = ["QueryFailed", "query", "query_range"]

DEFAULT_TIMEOUT_S = 5.0
Reduce = Literal["min", "max", "avg", "last"]
REDUCERS = ("min", "max", "avg", "last")


def _one_series(query_text: str, series: list[Series]) -> Series | None:
    if not series:
        return None
    if len(series) > 1:
        labels = [s.labels for s in series[:3]]
        raise QueryFailed(
            f"query {query_text!r} returned {len(series)} series (e.g. {labels}); aggregate it "
            "(sum, max, avg ...) to one"
        )
    return series[0] if series[0].points else None


def _empty(query_text: str, default: float | None, where: str) -> float:
    if default is None:
        raise NoData(
            f"query {query_text!r} returned no samples{where} (pass `default` to allow this)"
        )
    return float(default)


def query(
    url: str | None = None,
    query: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    default: float | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> float:
    """Run the instant query `query` and return its single value as a number.

    The result must be a scalar or a vector with exactly one sample (aggregate with `sum`,
    `max`, ... otherwise). An empty vector (or NaN) returns `default`, or raises `NoData`."""
    target = find_prometheus_url(configuration, url)
    series = _one_series(query, instant_query(target, query, timeout_s))
    if series is None:
        return _empty(query, default, "")
    return series.points[-1][1]


def query_range(
    url: str | None = None,
    query: str = "",
    window_s: float = 30.0,
    step_s: float = 1.0,
    reduce: Reduce = "last",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    default: float | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> float:
    """Evaluate `query` every `step_s` over the last `window_s` seconds and reduce its one
    series with `reduce` (min, max, avg or last)."""
    if reduce not in REDUCERS:
        raise InvalidProbeArgument(f"reduce must be one of {', '.join(REDUCERS)}, not {reduce!r}")
    if not 0 < window_s <= 86_400:
        raise InvalidProbeArgument(f"window_s must be > 0 and <= 86400, not {window_s}")
    target = find_prometheus_url(configuration, url)
    end = time.time()
    series = _one_series(query, range_query(target, query, end - window_s, end, step_s, timeout_s))
    if series is None:
        return _empty(query, default, f" in the last {window_s:g} s")
    values = [value for _, value in series.points]
    if reduce == "min":
        return min(values)
    if reduce == "max":
        return max(values)
    if reduce == "avg":
        return sum(values) / len(values)
    return values[-1]
