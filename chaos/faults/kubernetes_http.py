"""HTTP faults on a Kubernetes cluster, through sidecars that run our fault proxy.

`chaos.faults.http` on the cluster: the same arguments, the same HTTP toxics (`http_abort`,
`http_delay`, `http_first_n`, `http_reset`), added to the callers' sidecars as
`add_sidecar_toxic` adds any toxic (port-forward, ledger, undo `remove_sidecar_toxics`).
Only a sidecar running `gameday proxy serve` has these toxics: the official Toxiproxy
answers "invalid toxic type". The k8s/ manifests deploy the official one; the
k8s/with-gameday-sidecar overlay swaps in the shop image running `gameday proxy serve`,
and configuration `k8s_sidecar: gameday` tells validation that it is there.
`ttl_s` and `proxy_api` are accepted and ignored, as in `chaos.faults.kubernetes_network`.
"""

from __future__ import annotations

from typing import Any

from chaos.faults.http import first_requests, fixed_answer, held_for, request_match
from chaos.faults.kubernetes import DEFAULT_NAMESPACE
from chaos.faults.kubernetes_network import add_sidecar_toxic, edge_pattern
from chaos.faults.network import DEFAULT_TTL_S, Configuration, Stream

__all__ = ["abort_requests", "delay_requests", "fail_first_requests", "reset_responses"]


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
    namespace: str = DEFAULT_NAMESPACE,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.http.abort_requests` in the callers' sidecars. Undo: remove_toxics."""
    match, route = request_match(method, path, header_name, header_value)
    return add_sidecar_toxic(
        edge_pattern(edge, service, proxy),
        "http_abort",
        {**match, **fixed_answer(http_status, body, headers)},
        namespace=namespace,
        toxicity=toxicity,
        dry_run=dry_run,
        route=route,
        configuration=configuration,
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
    namespace: str = DEFAULT_NAMESPACE,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.http.delay_requests` in the callers' sidecars. Undo: remove_toxics."""
    match, route = request_match(method, path, header_name, header_value)
    return add_sidecar_toxic(
        edge_pattern(edge, service, proxy),
        "http_delay",
        {**match, **held_for(latency_ms, jitter_ms)},
        namespace=namespace,
        stream=stream,
        toxicity=toxicity,
        dry_run=dry_run,
        route=route,
        configuration=configuration,
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
    namespace: str = DEFAULT_NAMESPACE,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.http.fail_first_requests` in the callers' sidecars (counted per
    sidecar proxy). Undo: remove_toxics."""
    match, route = request_match(method, path, header_name, header_value)
    return add_sidecar_toxic(
        edge_pattern(edge, service, proxy),
        "http_first_n",
        {**match, **first_requests(count), **fixed_answer(http_status, body, headers)},
        namespace=namespace,
        dry_run=dry_run,
        route=route,
        configuration=configuration,
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
    namespace: str = DEFAULT_NAMESPACE,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.http.reset_responses` in the callers' sidecars. Undo: remove_toxics."""
    match, route = request_match(method, path, header_name, header_value)
    return add_sidecar_toxic(
        edge_pattern(edge, service, proxy),
        "http_reset",
        match,
        namespace=namespace,
        toxicity=toxicity,
        dry_run=dry_run,
        route=route,
        configuration=configuration,
    )
