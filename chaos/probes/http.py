"""HTTP probes: the status and latency of one request to a URL, always with a timeout."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from chaos.probes.errors import InvalidProbeArgument, ProbeUnreachable

__all__ = ["http_latency_ms", "http_ok", "http_status"]

DEFAULT_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 300.0


def _request(
    url: str,
    method: str,
    timeout_s: float,
    headers: Mapping[str, str] | None,
    body: Any,
) -> tuple[httpx.Response, float]:
    """One request; returns the response and its wall time in milliseconds."""
    if not url.startswith(("http://", "https://")):
        raise InvalidProbeArgument(f"url must start with http:// or https://, not {url!r}")
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise InvalidProbeArgument(
            f"timeout_s must be > 0 and <= {MAX_TIMEOUT_S:.0f}, not {timeout_s}"
        )
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            response = client.request(method.upper(), url, headers=dict(headers or {}), json=body)
    except httpx.TimeoutException as exc:
        raise ProbeUnreachable(f"{method.upper()} {url}: no response within {timeout_s} s") from exc
    except httpx.HTTPError as exc:
        raise ProbeUnreachable(f"{method.upper()} {url}: {type(exc).__name__}: {exc}") from exc
    return response, (time.perf_counter() - started) * 1000.0


def http_status(
    url: str,
    method: str = "GET",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> int:
    """The HTTP status code of one request (redirects are not followed). Raises
    `ProbeUnreachable` if the URL does not answer within `timeout_s`."""
    response, _ = _request(url, method, timeout_s, headers, body)
    return response.status_code


def http_latency_ms(
    url: str,
    method: str = "GET",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> float:
    """Wall time in milliseconds of one request until the whole response was read."""
    _, elapsed_ms = _request(url, method, timeout_s, headers, body)
    return round(elapsed_ms, 3)


def http_ok(
    url: str,
    method: str = "GET",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    expect_status: int | list[int] = 200,
    max_latency_ms: float | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> bool:
    """True when the URL answers with `expect_status` (one code or a list) within
    `timeout_s` and, if given, within `max_latency_ms`; false otherwise (including no
    answer at all)."""
    expected = [expect_status] if isinstance(expect_status, int) else list(expect_status)
    try:
        response, elapsed_ms = _request(url, method, timeout_s, headers, body)
    except ProbeUnreachable:
        return False
    if response.status_code not in expected:
        return False
    return max_latency_ms is None or elapsed_ms <= max_latency_ms
