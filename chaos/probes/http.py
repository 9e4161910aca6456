"""HTTP probes: the status, latency or JSON body of one request, always with a timeout.

A `url` that starts with `/` is a path on the running mesh's gateway (read from the mesh
state), so bundled experiments need no host name.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from chaos.faults.errors import TargetUnknown
from chaos.faults.locate import find_mesh_state
from chaos.probes.errors import (
    InvalidProbeArgument,
    ProbeError,
    ProbeTargetUnknown,
    ProbeUnreachable,
)
from chaos.probes.transport import shared_client

__all__ = ["http_json", "http_latency_ms", "http_ok", "http_status"]
Configuration = Mapping[str, Any] | None

DEFAULT_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 300.0


def _absolute(url: str, configuration: Configuration) -> str:
    if url.startswith("/"):
        try:
            return find_mesh_state(configuration).gateway_url.rstrip("/") + url
        except TargetUnknown as exc:
            raise ProbeTargetUnknown(f"cannot resolve {url!r} on the gateway: {exc}") from exc
    if not url.startswith(("http://", "https://")):
        raise InvalidProbeArgument(
            f"url must start with http://, https:// or / (a gateway path), not {url!r}"
        )
    return url


def _request(
    url: str,
    method: str,
    timeout_s: float,
    headers: Mapping[str, str] | None,
    body: Any,
    configuration: Configuration,
) -> tuple[httpx.Response, float]:
    """One request; returns the response and its wall time in milliseconds."""
    url = _absolute(url, configuration)
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise InvalidProbeArgument(
            f"timeout_s must be > 0 and <= {MAX_TIMEOUT_S:.0f}, not {timeout_s}"
        )
    started = time.perf_counter()
    try:
        response = shared_client().request(
            method.upper(), url, headers=dict(headers or {}), json=body, timeout=timeout_s
        )
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
    configuration: Configuration = None,
) -> int:
    """The HTTP status code of one request (redirects are not followed). Raises
    `ProbeUnreachable` if the URL does not answer within `timeout_s`."""
    response, _ = _request(url, method, timeout_s, headers, body, configuration)
    return response.status_code


def http_latency_ms(
    url: str,
    method: str = "GET",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    headers: dict[str, str] | None = None,
    body: Any = None,
    configuration: Configuration = None,
) -> float:
    """Wall time in milliseconds of one request until the whole response was read."""
    _, elapsed_ms = _request(url, method, timeout_s, headers, body, configuration)
    return round(elapsed_ms, 3)


def http_ok(
    url: str,
    method: str = "GET",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    expect_status: int | list[int] = 200,
    max_latency_ms: float | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    configuration: Configuration = None,
) -> bool:
    """True when the URL answers with `expect_status` (one code or a list) within
    `timeout_s` and, if given, within `max_latency_ms`; false otherwise (including no
    answer at all)."""
    expected = [expect_status] if isinstance(expect_status, int) else list(expect_status)
    try:
        response, elapsed_ms = _request(url, method, timeout_s, headers, body, configuration)
    except ProbeUnreachable:
        return False
    if response.status_code not in expected:
        return False
    return max_latency_ms is None or elapsed_ms <= max_latency_ms


def http_json(
    url: str,
    method: str = "GET",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    headers: dict[str, str] | None = None,
    body: Any = None,
    configuration: Configuration = None,
) -> Any:
    """The decoded JSON body of one request (for `jsonpath` tolerances). Raises
    `ProbeError` when the body is not JSON."""
    response, _ = _request(url, method, timeout_s, headers, body, configuration)
    try:
        return response.json()
    except ValueError as exc:
        raise ProbeError(
            f"{method.upper()} {url} answered HTTP {response.status_code} with a body that "
            "is not JSON"
        ) from exc
