"""Prometheus's HTTP query API: instant and range queries, and where the server is.

Shared by the PromQL probes, the PromQL guardrails and the report's saved series. Every
call has a timeout; errors are typed: `QueryFailed` (Prometheus refused the query, e.g. a
PromQL parse error, worded with the query and Prometheus's own message) and
`ProbeUnreachable` (no answer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chaos.probes.errors import (
    InvalidProbeArgument,
    ProbeError,
    ProbeTargetUnknown,
    ProbeUnreachable,
)
from chaos.probes.transport import shared_client

__all__ = [
    "PROMETHEUS_URL_KEY",
    "QueryFailed",
    "Series",
    "find_prometheus_url",
    "instant_query",
    "range_query",
]

# Configuration key naming a Prometheus (e.g. a cluster's); the mesh's own comes from its
# state file.
PROMETHEUS_URL_KEY = "prometheus_url"
MESH_STATE_KEY = "gameday_mesh_state"
MAX_TIMEOUT_S = 300.0


class QueryFailed(ProbeError):
    """Prometheus rejected the query or answered something that is not a query result."""


@dataclass(frozen=True)
class Series:
    """One time series of a result: its labels and `(unix time, value)` points (NaN
    points dropped)."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


def find_prometheus_url(
    configuration: Mapping[str, Any] | None = None, url: str | None = None
) -> str:
    """The explicit `url`, else configuration `prometheus_url`, else the running mesh's
    Prometheus (its state file: configuration `gameday_mesh_state`, env
    `GAMEDAY_MESH_STATE`, or `.gameday/mesh.json`). Raises `ProbeTargetUnknown`."""
    if url:
        return url.rstrip("/")
    configured = (configuration or {}).get(PROMETHEUS_URL_KEY)
    if configured:
        return str(configured).rstrip("/")
    from chaos.targets.launcher import MeshNotRunning, load_mesh_state

    state_file = (configuration or {}).get(MESH_STATE_KEY)
    try:
        state = load_mesh_state(Path(state_file) if state_file else None)
    except MeshNotRunning as exc:
        raise ProbeTargetUnknown(
            f"no Prometheus to query: pass `url`, set configuration {PROMETHEUS_URL_KEY!r}, "
            f"or start the mesh with `gameday mesh up --prometheus` ({exc})"
        ) from exc
    if not state.prometheus_url:
        raise ProbeTargetUnknown(
            "the running mesh has no Prometheus: start it with `gameday mesh up --prometheus` "
            f"(or `prometheus: true` for a local target), or set configuration "
            f"{PROMETHEUS_URL_KEY!r}"
        )
    return state.prometheus_url.rstrip("/")


def _check(query: str, timeout_s: float) -> None:
    if not query.strip():
        raise InvalidProbeArgument("query must be a non-empty PromQL expression")
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise InvalidProbeArgument(f"timeout_s must be > 0 and <= 300, not {timeout_s}")


def _get(url: str, path: str, query: str, params: dict[str, str], timeout_s: float) -> Any:
    endpoint = url.rstrip("/") + path
    try:
        response = shared_client().get(
            endpoint,
            params={"query": query, "timeout": f"{max(1, round(timeout_s * 1000))}ms", **params},
            timeout=timeout_s,
        )
    except httpx.TimeoutException as exc:
        raise ProbeUnreachable(f"Prometheus {endpoint}: no answer within {timeout_s} s") from exc
    except httpx.HTTPError as exc:
        raise ProbeUnreachable(f"Prometheus {endpoint}: {type(exc).__name__}: {exc}") from exc
    try:
        payload = response.json()
    except ValueError as exc:
        raise QueryFailed(
            f"{endpoint} answered HTTP {response.status_code} with a body that is not JSON"
        ) from exc
    if not isinstance(payload, dict) or payload.get("status") != "success":
        payload = payload if isinstance(payload, dict) else {}
        raise QueryFailed(
            f"query {query!r} failed: {payload.get('errorType', 'error')}: "
            f"{payload.get('error', f'HTTP {response.status_code}')}"
        )
    return payload.get("data") or {}


def number(query: str, raw: object) -> float:
    """A sample value as a float; `QueryFailed` when it is not a number."""
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise QueryFailed(f"query {query!r} returned {raw!r}, not a number") from exc


def instant_query(url: str, query: str, timeout_s: float = 5.0) -> list[Series]:
    """Evaluate `query` now: one single-point `Series` per sample (a scalar has no labels)."""
    _check(query, timeout_s)
    data = _get(url, "/api/v1/query", query, {}, timeout_s)
    result_type, result = data.get("resultType"), data.get("result")
    if result_type in ("scalar", "string"):
        return [Series({}, [(float(result[0]), number(query, result[1]))])]
    if result_type != "vector":
        raise QueryFailed(
            f"query {query!r} returned a {result_type}; use an instant vector or scalar"
        )
    return [
        Series(dict(sample.get("metric") or {}), [(float(sample["value"][0]), value)])
        for sample in result
        if not math.isnan(value := number(query, sample["value"][1]))
    ]


def range_query(
    url: str, query: str, start: float, end: float, step_s: float = 1.0, timeout_s: float = 5.0
) -> list[Series]:
    """Evaluate `query` every `step_s` seconds over `[start, end]` (unix seconds)."""
    _check(query, timeout_s)
    if end <= start:
        raise InvalidProbeArgument(f"a range query needs end > start, not {start}..{end}")
    if step_s <= 0 or (end - start) / step_s > 11_000:
        # Prometheus refuses more than 11,000 points per series.
        raise InvalidProbeArgument(f"step_s {step_s} is too small for a {end - start:.0f} s range")
    params = {"start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"}
    data = _get(url, "/api/v1/query_range", query, params, timeout_s)
    if data.get("resultType") != "matrix":
        raise QueryFailed(f"query {query!r} returned a {data.get('resultType')}, not a matrix")
    series = []
    for item in data.get("result") or []:
        points = [
            (float(ts), value)
            for ts, raw in item.get("values") or []
            if not math.isnan(value := number(query, raw))
        ]
        series.append(Series(dict(item.get("metric") or {}), points))
    return series
