"""HTTP faults on fault-proxy edges: abort, delay, fail-first-N and reset matching requests.

Each fault adds one of the proxy's HTTP toxics (`http_abort`, `http_delay`,
`http_first_n`, `http_reset`) with the target forms, ledger entry, TTL and undo
(`chaos.faults.network.remove_toxics`) of the network faults. Requests are matched by
`method` (one or a comma-separated list), `path` (a glob over the path without the query,
`*` crosses `/`) and one header (`header_name` with a `header_value` glob); `toxicity` is
drawn per matched request. The route matched is part of the fault's target label, so the
report's fault row names it.

HTTP toxics need the embedded fault proxy (`gameday proxy serve` or the mesh); a real
Toxiproxy refuses them as an invalid toxic type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chaos.faults.errors import InvalidFaultArgument
from chaos.faults.network import (
    DEFAULT_TTL_S,
    Configuration,
    Stream,
    _check,
    _inject_toxic,
    _Target,
)

__all__ = ["abort_requests", "delay_requests", "fail_first_requests", "reset_responses"]

_UNSAFE = re.compile(r"[\r\n\x00]")


def request_match(
    method: str | None, path: str | None, header_name: str | None, header_value: str | None
) -> tuple[dict[str, str], str]:
    """The toxic's matcher attributes and a label of the route they match (shared with
    `chaos.faults.kubernetes_http`)."""
    for name, value in (
        ("method", method),
        ("path", path),
        ("header_name", header_name),
        ("header_value", header_value),
    ):
        if value is not None and _UNSAFE.search(value):
            raise InvalidFaultArgument(f"{name} must not contain CR, LF or NUL: {value!r}")
    if header_value and not header_name:
        raise InvalidFaultArgument("header_value needs header_name (the header to match)")
    if path and not path.startswith(("/", "*")):
        raise InvalidFaultArgument(
            f"path is a glob over the request path, like '/checkout*'; not {path!r}"
        )
    attributes = {
        "method": (method or "").upper(),
        "path": path or "",
        "header_name": header_name or "",
        "header_value": header_value or "",
    }
    parts = [part for part in (attributes["method"], attributes["path"]) if part]
    if header_name:
        parts.append(f"[{header_name}: {header_value or '*'}]")
    return attributes, " ".join(parts) or "all requests"


def fixed_answer(http_status: int, body: str, headers: Mapping[str, str] | None) -> dict[str, Any]:
    """The attributes of a toxic that answers in the service's place."""
    _check(200 <= http_status <= 599, f"http_status must be 200-599, not {http_status}")
    for name, value in (headers or {}).items():
        _check(
            bool(name) and not _UNSAFE.search(name + value),
            f"headers: {name!r}: {value!r} is not a valid header",
        )
    return {"http_status": int(http_status), "body": body, "headers": dict(headers or {})}


def held_for(latency_ms: int, jitter_ms: int) -> dict[str, int]:
    """The attributes of a toxic that holds requests or responses (`http_delay`)."""
    _check(latency_ms >= 0, f"latency_ms must be >= 0, not {latency_ms}")
    _check(jitter_ms >= 0, f"jitter_ms must be >= 0, not {jitter_ms}")
    return {"latency": int(latency_ms), "jitter": int(jitter_ms)}


def first_requests(count: int) -> dict[str, int]:
    """The attribute of a toxic that fails only the first `count` requests (`http_first_n`)."""
    _check(count >= 1, f"count must be >= 1, not {count}")
    return {"count": int(count)}


def abort_requests(
    http_status: int = 503,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    method: str | None = None,
    path: str | None = None,
    header_name: str | None = None,
    header_value: str | None = None,
    body: str = "",
    headers: dict[str, str] | None = None,
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Answer matching requests with `http_status` (and `body`, `headers`) without
    forwarding them (toxic `http_abort`; Istio/Envoy abort). Undo: remove_toxics."""
    match, route = request_match(method, path, header_name, header_value)
    attributes = {**match, **fixed_answer(http_status, body, headers)}
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic(
        "http_abort", "http_abort", attributes, "downstream", toxicity, ttl_s, target, route
    )


def delay_requests(
    latency_ms: int,
    jitter_ms: int = 0,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    method: str | None = None,
    path: str | None = None,
    header_name: str | None = None,
    header_value: str | None = None,
    stream: Stream = "upstream",
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Hold matching requests (`stream` upstream) or their responses (downstream; both:
    each) for `latency_ms` ± `jitter_ms` (toxic `http_delay`). Other requests on the same
    connections are not held, except those pipelined behind a held one.
    Undo: remove_toxics."""
    match, route = request_match(method, path, header_name, header_value)
    attributes = {**match, **held_for(latency_ms, jitter_ms)}
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic(
        "http_delay", "http_delay", attributes, stream, toxicity, ttl_s, target, route
    )


def fail_first_requests(
    count: int,
    http_status: int = 503,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    method: str | None = None,
    path: str | None = None,
    header_name: str | None = None,
    header_value: str | None = None,
    body: str = "",
    headers: dict[str, str] | None = None,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Answer the first `count` matching requests (counted per proxy, across its
    connections) with `http_status`, then let every request pass (toxic `http_first_n`):
    what a client's retries must ride out. Undo: remove_toxics."""
    match, route = request_match(method, path, header_name, header_value)
    attributes = {**match, **first_requests(count), **fixed_answer(http_status, body, headers)}
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic(
        "http_first_n", "http_first_n", attributes, "downstream", 1.0, ttl_s, target, route
    )


def reset_responses(
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    method: str | None = None,
    path: str | None = None,
    header_name: str | None = None,
    header_value: str | None = None,
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Reset the caller's connection (TCP RST) after the response head of matching
    requests, before its body (toxic `http_reset`): the request did reach the service.
    Undo: remove_toxics."""
    match, route = request_match(method, path, header_name, header_value)
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic(
        "http_reset", "http_reset", match, "downstream", toxicity, ttl_s, target, route
    )
