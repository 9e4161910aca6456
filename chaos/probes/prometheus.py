"""Prometheus probe: one instant PromQL query, reduced to a number, with a timeout."""

from __future__ import annotations

import math

import httpx

from chaos.probes.errors import InvalidProbeArgument, NoData, ProbeError, ProbeUnreachable
from chaos.probes.transport import shared_client

__all__ = ["query"]

DEFAULT_TIMEOUT_S = 5.0


class QueryFailed(ProbeError):
    """Prometheus rejected the query or answered something that is not a query result."""


def query(
    url: str,
    query: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    default: float | None = None,
) -> float:
    """Run the instant query `query` against the Prometheus at `url` (its base URL, e.g.
    `http://prometheus:9090`) and return its single value as a number.

    The result must be a scalar or a vector with exactly one sample (aggregate with `sum`,
    `max`, ... otherwise). An empty vector returns `default`, or raises `NoData` when no
    default is given.
    """
    if not query.strip():
        raise InvalidProbeArgument("query must be a non-empty PromQL expression")
    if not 0 < timeout_s <= 300:
        raise InvalidProbeArgument(f"timeout_s must be > 0 and <= 300, not {timeout_s}")
    endpoint = url.rstrip("/") + "/api/v1/query"
    try:
        response = shared_client().get(
            endpoint,
            params={"query": query, "timeout": f"{timeout_s}s"},
            timeout=timeout_s,
        )
    except httpx.TimeoutException as exc:
        raise ProbeUnreachable(f"{endpoint}: no answer within {timeout_s} s") from exc
    except httpx.HTTPError as exc:
        raise ProbeUnreachable(f"{endpoint}: {type(exc).__name__}: {exc}") from exc
    try:
        payload = response.json()
    except ValueError as exc:
        raise QueryFailed(
            f"{endpoint} answered HTTP {response.status_code} with a body that is not JSON"
        ) from exc
    if payload.get("status") != "success":
        raise QueryFailed(
            f"query {query!r} failed: {payload.get('errorType', 'error')}: "
            f"{payload.get('error', f'HTTP {response.status_code}')}"
        )
    data = payload.get("data") or {}
    result_type, result = data.get("resultType"), data.get("result")
    if result_type in ("scalar", "string"):
        return _number(query, result[1])
    if result_type != "vector":
        raise QueryFailed(
            f"query {query!r} returned a {result_type}; use an instant vector or scalar"
        )
    if not result:
        if default is None:
            raise NoData(f"query {query!r} returned no samples (pass `default` to allow this)")
        return float(default)
    if len(result) > 1:
        labels = [sample.get("metric", {}) for sample in result[:3]]
        raise QueryFailed(
            f"query {query!r} returned {len(result)} samples (e.g. {labels}); aggregate it "
            "(sum, max, avg ...) to one number"
        )
    return _number(query, result[0]["value"][1])


def _number(query_text: str, raw: object) -> float:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise QueryFailed(f"query {query_text!r} returned {raw!r}, not a number") from exc
    if math.isnan(value):
        raise NoData(f"query {query_text!r} returned NaN")
    return value
