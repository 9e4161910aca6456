"""Network toxics on a Kubernetes cluster, through the pods' Toxiproxy sidecars.

Each shop pod runs a Toxiproxy sidecar (k8s/shop) with one proxy per outbound edge, named
like the local mesh's edges (`orders->payments`). A fault port-forwards to the sidecar API
(port 8474) of every selected pod and adds a toxic to the proxies matching `edge`.

Pods are selected by `label_selector`, by default the caller's pods
(`app.kubernetes.io/name=orders` for `orders->payments`; `app.kubernetes.io/part-of=shop`
for `*->payments`). Blast radius, ledger and dry run as in `chaos.faults.kubernetes`.
A real Toxiproxy has no toxic TTL, so the ledger's undo (`remove_sidecar_toxics`) is what
takes a toxic away after a crash; a pod that was replaced meanwhile starts clean.

`add_latency`, `reset_connections`, `partition` (blackhole), `remove_toxics` and
`heal_partition` take the same arguments as their namesakes in `chaos.faults.network`, so
an experiment written for the local mesh runs on a cluster by swapping the module name.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Literal

from chaos.faults.errors import InvalidFaultArgument, TargetNotFound
from chaos.faults.kubernetes import DEFAULT_NAMESPACE
from chaos.faults.kubernetes_ledger import (
    Configuration,
    NothingChanged,
    cluster_of,
    connect_to,
    fault_scope,
    record_and_apply,
    settle,
)
from chaos.faults.kubernetes_pods import KillMode, how_many, live_pods, pod_names
from chaos.faults.toxic_spec import (
    TOXIC_PREFIX,
    ToxicSpec,
    check_one_target,
    is_ours,
    toxics_covered,
)
from chaos.k8s.client import KubeApi
from chaos.k8s.portforward import PodPortForward
from chaos.proxy import AlreadyExists, NotFound, ToxiproxyClient, ToxiproxyError

__all__ = [
    "add_latency",
    "add_sidecar_latency",
    "add_sidecar_toxic",
    "heal_partition",
    "partition",
    "remove_sidecar_toxics",
    "remove_toxics",
    "reset_connections",
]

SIDECAR_API_PORT = 8474
NAME_LABEL = "app.kubernetes.io/name"
SHOP_SELECTOR = "app.kubernetes.io/part-of=shop"
Stream = Literal["downstream", "upstream", "both"]


def default_selector(edge: str) -> str:
    """The pods whose sidecars carry `edge`: those of its caller."""
    caller, arrow, _ = edge.partition("->")
    if not arrow:
        raise InvalidFaultArgument(f"edge {edge!r} is not of the form 'caller->callee'")
    if caller in ("", "*"):
        return SHOP_SELECTOR
    if any(char in caller for char in "*?["):
        raise InvalidFaultArgument(
            f"edge {edge!r}: name the caller exactly or use '*', or pass label_selector"
        )
    return f"{NAME_LABEL}={caller}"


def _sidecar(api: KubeApi, namespace: str, pod: str, port: int) -> PodPortForward:
    return PodPortForward(api, namespace, pod, port)


def add_sidecar_toxic(
    edge: str,
    toxic_type: str,
    attributes: Mapping[str, Any] | None = None,
    label_selector: str | dict[str, str] | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    mode: KillMode = "all",
    count: int | None = None,
    percent: float | None = None,
    seed: int | None = None,
    api_port: int = SIDECAR_API_PORT,
    dry_run: bool = False,
    route: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Add a Toxiproxy toxic (`latency`, `bandwidth`, `timeout`, `reset_peer`, `slicer`,
    `slow_close`, `limit_data`; the HTTP toxics of `chaos.faults.kubernetes_http`) to the
    proxies matching `edge` in the sidecars of the selected pods (`mode` all/one/count/
    percent of them); `route` names what an HTTP toxic matches in the fault's target.
    Undo: remove_sidecar_toxics."""
    scope = fault_scope(configuration, dry_run)
    selector = scope.check(namespace, label_selector or default_selector(edge))
    spec = ToxicSpec.build(toxic_type, toxic_type, attributes, stream, toxicity)
    toxic_names = spec.names
    with connect_to(configuration) as api:
        pods = live_pods(api.list_pods(namespace, selector))
        if not pods:
            raise TargetNotFound(f"no running pod matches {selector!r} in namespace {namespace}")
        chosen = sorted(
            random.Random(seed).sample(pod_names(pods), how_many(mode, len(pods), count, percent))
        )
        if scope.dry_run:
            return {
                "dry_run": True,
                "action": "add_sidecar_toxic",
                "namespace": namespace,
                "label_selector": selector,
                "edge": edge,
                "matched": pod_names(pods),
                "would_change": [f"pod/{name} sidecar {edge}" for name in chosen],
                "toxics": toxic_names,
            }

        def apply() -> dict[str, Any]:
            touched: dict[str, list[str]] = {}
            changed = False
            for pod in chosen:
                with (
                    _sidecar(api, namespace, pod, api_port) as forward,
                    ToxiproxyClient(forward.url, timeout=api.timeout_s) as client,
                ):
                    try:
                        matched = sorted(
                            n for n in client.proxies() if fnmatch.fnmatchcase(n, edge)
                        )
                        for proxy in matched:
                            for toxic_name, toxic_stream in spec.named_streams():
                                # The same fault again replaces the old toxic instead of
                                # stacking.
                                with suppress(NotFound):
                                    client.remove_toxic(proxy, toxic_name)
                                    changed = True
                                with suppress(AlreadyExists):
                                    spec.add(client, proxy, toxic_name, toxic_stream)
                                    changed = True
                    except ToxiproxyError as exc:
                        # The sidecar's client only sees a closed connection; why the
                        # port-forward failed (e.g. RBAC) is the forward's to tell.
                        cause = forward.failures[0] if forward.failures else exc
                        if not changed and forward.failures:
                            raise NothingChanged(cause) from exc
                        raise cause from exc
                if matched:
                    touched[pod] = matched
            if not touched:
                raise NothingChanged(
                    TargetNotFound(f"no sidecar of {chosen} has a proxy matching {edge!r}")
                )
            return {"namespace": namespace, "edge": edge, "pods": touched, "toxics": toxic_names}

        return record_and_apply(
            kind=f"k8s.toxic.{toxic_type}",
            target=f"{namespace}/{selector} {edge}" + (f" {route}" if route else ""),
            undo_func="remove_sidecar_toxics",
            undo_arguments={
                "edge": edge,
                "pods": chosen,
                "toxics": toxic_names,
                "namespace": namespace,
                "api_port": api_port,
                "cluster": cluster_of(configuration),
            },
            configuration=configuration,
            apply=apply,
            module=__name__,
        )


def add_sidecar_latency(
    edge: str,
    latency_ms: int,
    jitter_ms: int = 0,
    label_selector: str | dict[str, str] | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    mode: KillMode = "all",
    count: int | None = None,
    percent: float | None = None,
    seed: int | None = None,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Delay data on `edge` by `latency_ms` ± `jitter_ms` in the callers' sidecars.
    Undo: remove_sidecar_toxics."""
    if latency_ms < 0 or jitter_ms < 0:
        raise InvalidFaultArgument("latency_ms and jitter_ms must be >= 0")
    return add_sidecar_toxic(
        edge,
        "latency",
        {"latency": int(latency_ms), "jitter": int(jitter_ms)},
        label_selector=label_selector,
        namespace=namespace,
        stream=stream,
        toxicity=toxicity,
        mode=mode,
        count=count,
        percent=percent,
        seed=seed,
        dry_run=dry_run,
        configuration=configuration,
    )


def remove_sidecar_toxics(
    edge: str,
    pods: list[str],
    toxics: list[str] | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    api_port: int = SIDECAR_API_PORT,
    cluster: dict[str, Any] | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of the sidecar toxics: remove our toxics (the names in `toxics`, else every
    `gameday-*` toxic) from the proxies matching `edge` in the given pods' sidecars.
    Idempotent; a pod that no longer exists has nothing left to undo."""
    removed: list[str] = []
    with connect_to(configuration, cluster) as api:
        existing = set(pod_names(api.list_pods(namespace, f"{NAME_LABEL}")))
        for pod in pods:
            if pod not in existing:
                continue
            with (
                _sidecar(api, namespace, pod, api_port) as forward,
                ToxiproxyClient(forward.url, timeout=api.timeout_s) as client,
            ):
                try:
                    proxies = client.proxies()
                    for proxy, info in proxies.items():
                        if not fnmatch.fnmatchcase(proxy, edge):
                            continue
                        for toxic in info.toxics:
                            if not is_ours(toxic.name, toxics):
                                continue
                            with suppress(NotFound):
                                client.remove_toxic(proxy, toxic.name)
                                removed.append(f"{pod}/{proxy}/{toxic.name}")
                except ToxiproxyError as exc:
                    if forward.failures:
                        raise forward.failures[0] from exc
                    raise
    handled = set(pods)

    def covers(args: dict[str, Any]) -> bool:
        # A pod that is gone took its sidecar's toxics with it.
        pods_covered = all(p in handled or p not in existing for p in args.get("pods") or [])
        same_edge = args.get("namespace") == namespace and args.get("edge") == edge
        return same_edge and pods_covered and toxics_covered(args, toxics)

    settle(configuration, "remove_sidecar_toxics", covers, module=__name__)
    return {"namespace": namespace, "removed": removed}


# -- the same faults as chaos.faults.network, for one experiment file on both targets -----


def edge_pattern(edge: str | None, service: str | None, proxy: str | list[str] | None) -> str:
    """The edge pattern of the mesh-style target arguments (exactly one of them)."""
    check_one_target(edge, service, proxy)
    if service:
        return f"*->{service}"
    if proxy:
        names = [proxy] if isinstance(proxy, str) else list(proxy)
        if len(names) != 1:
            raise InvalidFaultArgument("on Kubernetes, name one proxy (an edge) per fault")
        return names[0]
    return str(edge)


def add_latency(
    latency_ms: int,
    jitter_ms: int = 0,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    ttl_s: float | None = None,
    proxy_api: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.network.add_latency` on the cluster's sidecars (same arguments).
    `ttl_s` and `proxy_api` are accepted and ignored: a real Toxiproxy has no TTL (the
    ledger's undo removes the toxic) and each pod has its own API. Undo: remove_toxics."""
    return add_sidecar_latency(
        edge_pattern(edge, service, proxy),
        latency_ms,
        jitter_ms,
        namespace=namespace,
        stream=stream,
        toxicity=toxicity,
        dry_run=dry_run,
        configuration=configuration,
    )


def reset_connections(
    timeout_ms: int = 0,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    ttl_s: float | None = None,
    proxy_api: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.network.reset_connections` on the sidecars (Toxiproxy `reset_peer`).
    Undo: remove_toxics."""
    if timeout_ms < 0:
        raise InvalidFaultArgument(f"timeout_ms must be >= 0, not {timeout_ms}")
    return add_sidecar_toxic(
        edge_pattern(edge, service, proxy),
        "reset_peer",
        {"timeout": int(timeout_ms)},
        namespace=namespace,
        stream=stream,
        toxicity=toxicity,
        dry_run=dry_run,
        configuration=configuration,
    )


def partition(
    mode: Literal["blackhole"] = "blackhole",
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    ttl_s: float | None = None,
    proxy_api: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.network.partition` on the sidecars: `blackhole` (a `timeout` toxic
    with timeout 0 both ways: connections open, no byte passes). `refuse` is not offered
    here; cut pods apart with `chaos.faults.kubernetes.partition` (NetworkPolicies).
    Undo: heal_partition."""
    if mode != "blackhole":
        raise InvalidFaultArgument(
            f"mode {mode!r} is not available on Kubernetes sidecars; use 'blackhole', or "
            "chaos.faults.kubernetes.partition for a NetworkPolicy partition"
        )
    return add_sidecar_toxic(
        edge_pattern(edge, service, proxy),
        "timeout",
        {"timeout": 0},
        namespace=namespace,
        stream="both",
        dry_run=dry_run,
        configuration=configuration,
    )


def remove_toxics(
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    toxics: list[str] | None = None,
    proxy_api: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.network.remove_toxics` on the sidecars of every pod that carries the
    edge now (our `gameday-*` toxics, or only `toxics`). Idempotent."""
    pattern = edge_pattern(edge, service, proxy)
    with connect_to(configuration) as api:
        pods = pod_names(live_pods(api.list_pods(namespace, default_selector(pattern))))
    return remove_sidecar_toxics(
        pattern, pods, toxics=toxics, namespace=namespace, configuration=configuration
    )


def heal_partition(
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    proxy_api: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """`chaos.faults.network.heal_partition` on the sidecars: remove the blackhole."""
    return remove_toxics(
        edge,
        service,
        proxy,
        toxics=[f"{TOXIC_PREFIX}timeout-upstream", f"{TOXIC_PREFIX}timeout-downstream"],
        namespace=namespace,
        configuration=configuration,
    )
