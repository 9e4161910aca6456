"""How a mesh experiment's providers map onto a Kubernetes cluster (`--target k8s`).

Every mesh-level provider is replaced by its Kubernetes equivalent from `EQUIVALENTS`
(services become the label `app.kubernetes.io/name=SERVICE` the k8s/ manifests put on every
pod; proxy edges become the pods' Toxiproxy sidecars). A provider with no equivalent (the
mesh invariants, pausing processes) raises `NoEquivalent`, which the adapter turns into a
located validation error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chaos.experiment.source import FieldPath

GATEWAY_KEY = "k8s_gateway_url"
NAME_LABEL = "app.kubernetes.io/name"
HYPOTHESIS_KEY = "steady-state-hypothesis"
# What `kubectl delete pod` does without --grace-period: SIGTERM, then SIGKILL after 30 s.
SIGTERM_GRACE_S = 30

NETWORK = "chaos.faults.network"
PROCESS = "chaos.faults.process"
REPLICAS = "chaos.probes.replicas"
INVARIANTS = "chaos.probes.invariants"
HTTP = "chaos.probes.http"
K8S_FAULTS = "chaos.faults.kubernetes"
K8S_NETWORK = "chaos.faults.kubernetes_network"
HTTP_FAULTS = "chaos.faults.http"
K8S_HTTP = "chaos.faults.kubernetes_http"
K8S_NODE = "chaos.faults.kubernetes_node"
K8S_PROBES = "chaos.probes.kubernetes"
K8S_RECOVERY = "chaos.probes.kubernetes_recovery"
FAULT_MODULES = (K8S_FAULTS, K8S_NETWORK, K8S_HTTP, K8S_NODE)
# Configuration key: which fault proxy the shop pods' sidecars run.
SIDECAR_KEY = "k8s_sidecar"
TOXIPROXY_SIDECAR = "toxiproxy"  # k8s/: the official image, ghcr.io/shopify/toxiproxy
GAMEDAY_SIDECAR = "gameday"  # k8s/with-gameday-sidecar: the shop image, `gameday proxy serve`
SIDECARS = (TOXIPROXY_SIDECAR, GAMEDAY_SIDECAR)


class NoEquivalent(ValueError):
    """A provider (or one of its arguments) has no Kubernetes equivalent."""


@dataclass(frozen=True)
class Cluster:
    """What a translation needs to know about the target."""

    namespace: str
    gateway_url: str | None
    sidecar: str = TOXIPROXY_SIDECAR


Translate = Callable[[dict[str, Any], Cluster], dict[str, Any]]


@dataclass(frozen=True)
class Equivalent:
    module: str
    func: str
    translate: Translate
    note: str


# -- argument translations ------------------------------------------------------------------


def _edge_pattern(arguments: Mapping[str, Any]) -> str:
    """The one edge pattern of the mesh-style target arguments (edge, service or proxy)."""
    given = [key for key in ("edge", "service", "proxy") if arguments.get(key)]
    if len(given) != 1:
        raise NoEquivalent("name the target with exactly one of `edge`, `service` or `proxy`")
    value = arguments[given[0]]
    if given[0] == "service":
        return f"*->{value}"
    if given[0] == "proxy":
        names = [value] if isinstance(value, str) else list(value)
        if len(names) != 1:
            raise NoEquivalent("on Kubernetes, name one proxy (an edge) per fault")
        return str(names[0])
    return str(value)


def _sidecar_edge(pattern: str) -> str:
    """The edge as the sidecars address it. `client->gateway` is the ingress listener in
    the gateway pods' sidecars (the gateway Service points at it), not in a `client` pod;
    as nothing in the shop calls the gateway, `*->gateway` names exactly that listener."""
    caller, _, callee = pattern.partition("->")
    if caller != "client":
        return pattern
    if callee != "gateway":
        raise NoEquivalent(f"edge {pattern!r}: the cluster's only client edge is client->gateway")
    return "*->gateway"


def _with_edge(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    """Same function, same arguments; the target becomes one `edge` in the namespace."""
    pattern = _sidecar_edge(_edge_pattern(arguments))
    rest = {k: v for k, v in arguments.items() if k not in ("edge", "service", "proxy")}
    return {**rest, "edge": pattern, "namespace": cluster.namespace}


def http_refusal(sidecar: str) -> str | None:
    """Why the cluster's sidecars cannot take an HTTP toxic; None when they can."""
    if sidecar == GAMEDAY_SIDECAR:
        return None
    return (
        f"HTTP toxics need sidecars running `gameday proxy serve`; this target's sidecars "
        f"are the official Toxiproxy ({SIDECAR_KEY}: {sidecar}, image "
        "ghcr.io/shopify/toxiproxy), which has no HTTP toxics. Deploy "
        f"k8s/with-gameday-sidecar (`gameday lab up --sidecar gameday`) and set "
        f"configuration {SIDECAR_KEY}: {GAMEDAY_SIDECAR}"
    )


def _http_in_sidecar(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    refusal = http_refusal(cluster.sidecar)
    if refusal is not None:
        raise NoEquivalent(refusal)
    return _with_edge(arguments, cluster)


def _partition(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    if arguments.get("mode", "blackhole") != "blackhole":
        raise NoEquivalent(
            "mode 'refuse' (a disabled proxy) has no sidecar equivalent; use 'blackhole', or "
            "chaos.faults.kubernetes.partition for a NetworkPolicy partition"
        )
    return _with_edge(arguments, cluster)


def _toxic(toxic_type: str, attributes: Mapping[str, tuple[str, int]]) -> Translate:
    """A mesh toxic fault as `add_sidecar_toxic`: attribute -> (argument, default). The
    mesh's `ttl_s` and `proxy_api` are dropped: a sidecar has no TTL and its own API."""

    def translate(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
        values = {
            attribute: int(arguments.get(argument, default))
            for attribute, (argument, default) in attributes.items()
        }
        translated: dict[str, Any] = {
            "edge": _sidecar_edge(_edge_pattern(arguments)),
            "toxic_type": toxic_type,
            "attributes": values,
            "namespace": cluster.namespace,
        }
        for key in ("stream", "toxicity"):
            if key in arguments:
                translated[key] = arguments[key]
        return translated

    return translate


def _selector(service: Any) -> str:
    if not service:
        raise NoEquivalent("name the `service`")
    return f"{NAME_LABEL}={service}"


def _kill(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    signal = arguments.get("signal", "SIGKILL")
    translated: dict[str, Any] = {
        "label_selector": _selector(arguments.get("service")),
        "namespace": cluster.namespace,
        "grace_period_seconds": 0 if signal == "SIGKILL" else SIGTERM_GRACE_S,
    }
    if arguments.get("percent") is not None:
        translated.update(mode="percent", percent=arguments["percent"])
    else:
        translated.update(mode="count", count=arguments.get("count", 1))
    if arguments.get("seed") is not None:
        translated["seed"] = arguments["seed"]
    return translated


def _pods(*keep: str) -> Translate:
    def translate(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
        kept = {key: arguments[key] for key in keep if key in arguments}
        return {
            "label_selector": _selector(arguments.get("service")),
            "namespace": cluster.namespace,
            **kept,
        }

    return translate


def _gateway_url(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    url = str(arguments.get("url", ""))
    if not url.startswith("/"):
        return arguments
    if not cluster.gateway_url:
        raise NoEquivalent(
            f"url {url!r} is a path on the mesh gateway; on a Kubernetes target set load.host "
            f"or configuration {GATEWAY_KEY!r} (the gateway as reached from here), or give a "
            "full URL"
        )
    return {**arguments, "url": cluster.gateway_url.rstrip("/") + url}


_SIDECAR = "the callers' Toxiproxy sidecars"

# (mesh module, function) -> its Kubernetes equivalent, or why there is none.
EQUIVALENTS: dict[tuple[str, str], Equivalent | str] = {
    (NETWORK, "add_latency"): Equivalent(K8S_NETWORK, "add_latency", _with_edge, _SIDECAR),
    (NETWORK, "reset_connections"): Equivalent(
        K8S_NETWORK, "reset_connections", _with_edge, _SIDECAR
    ),
    (NETWORK, "partition"): Equivalent(K8S_NETWORK, "partition", _partition, "blackhole only"),
    (NETWORK, "remove_toxics"): Equivalent(K8S_NETWORK, "remove_toxics", _with_edge, _SIDECAR),
    (NETWORK, "heal_partition"): Equivalent(K8S_NETWORK, "heal_partition", _with_edge, _SIDECAR),
    (NETWORK, "limit_bandwidth"): Equivalent(
        K8S_NETWORK,
        "add_sidecar_toxic",
        _toxic("bandwidth", {"rate": ("rate_kbps", 0)}),
        "toxic `bandwidth`",
    ),
    (NETWORK, "slow_close"): Equivalent(
        K8S_NETWORK,
        "add_sidecar_toxic",
        _toxic("slow_close", {"delay": ("delay_ms", 0)}),
        "toxic `slow_close`",
    ),
    (NETWORK, "slice_packets"): Equivalent(
        K8S_NETWORK,
        "add_sidecar_toxic",
        _toxic(
            "slicer",
            {
                "average_size": ("average_size", 0),
                "size_variation": ("size_variation", 0),
                "delay": ("delay_us", 0),
            },
        ),
        "toxic `slicer`",
    ),
    (NETWORK, "limit_data"): Equivalent(
        K8S_NETWORK,
        "add_sidecar_toxic",
        _toxic("limit_data", {"bytes": ("bytes", 0)}),
        "toxic `limit_data`",
    ),
    (PROCESS, "kill_replicas"): Equivalent(
        K8S_FAULTS, "kill_pods", _kill, "SIGKILL: grace 0; SIGTERM: grace 30 s"
    ),
    (PROCESS, "pause_replicas"): (
        "a pod's processes cannot be paused through the Kubernetes API; for a hang use "
        "chaos.faults.network.partition (blackhole) on the edges into the service"
    ),
    (PROCESS, "resume_replicas"): "pausing has no Kubernetes equivalent, so neither has resuming",
    (REPLICAS, "replicas_ready"): Equivalent(K8S_PROBES, "count_ready_pods", _pods(), "Ready pods"),
    (REPLICAS, "all_replicas_ready"): Equivalent(
        K8S_PROBES, "all_pods_ready", _pods(), "every pod Ready"
    ),
    (REPLICAS, "seconds_until_ready"): Equivalent(
        K8S_RECOVERY,
        "seconds_until_pods_ready",
        _pods("min_ready", "timeout_s", "poll_s"),
        "Ready pods",
    ),
    **{
        (HTTP_FAULTS, func): Equivalent(K8S_HTTP, func, _http_in_sidecar, _SIDECAR)
        for func in ("abort_requests", "delay_requests", "fail_first_requests", "reset_responses")
    },
    (HTTP, "http_status"): Equivalent(HTTP, "http_status", _gateway_url, "gateway paths"),
    (HTTP, "http_latency_ms"): Equivalent(HTTP, "http_latency_ms", _gateway_url, "gateway paths"),
    (HTTP, "http_ok"): Equivalent(HTTP, "http_ok", _gateway_url, "gateway paths"),
    (HTTP, "http_json"): Equivalent(HTTP, "http_json", _gateway_url, "gateway paths"),
}
# Modules that only make sense on the local mesh: a function of theirs missing from the
# table has no equivalent.
MESH_MODULES = {
    NETWORK: "it talks to the local mesh's fault proxy",
    PROCESS: "it signals the local mesh's processes",
    REPLICAS: "it reads the local mesh's state file",
    INVARIANTS: (
        "the mesh invariants read the local mesh's SQLite databases, which a cluster does not "
        "expose; check consistency with an http probe on the shop's API instead"
    ),
    "chaos.faults.resources": (
        "resource faults act on the local mesh's processes (prlimit, SIGSTOP); in a pod that "
        "would need exec, which the runner's RBAC does not grant"
    ),
}


def equivalent(module: str, func: str) -> Equivalent | None:
    """The Kubernetes equivalent of a provider; None when it runs unchanged on a cluster.
    Raises `NoEquivalent` for a mesh-only provider."""
    found = EQUIVALENTS.get((module, func))
    if isinstance(found, Equivalent):
        return found
    if isinstance(found, str):
        raise NoEquivalent(found)
    if module in MESH_MODULES:
        raise NoEquivalent(MESH_MODULES[module])
    return None


def activities(data: Mapping[str, Any]) -> list[tuple[FieldPath, dict[str, Any]]]:
    """Every activity of an experiment's data (hypothesis probes, method, rollbacks) with
    its field path."""
    found: list[tuple[FieldPath, dict[str, Any]]] = []
    hypothesis = data.get(HYPOTHESIS_KEY) or {}
    for index, activity in enumerate(hypothesis.get("probes") or []):
        found.append(((HYPOTHESIS_KEY, "probes", index), activity))
    for section in ("method", "rollbacks"):
        for index, activity in enumerate(data.get(section) or []):
            found.append(((section, index), activity))
    return [(path, a) for path, a in found if isinstance(a, dict)]


def python_provider(activity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The activity's provider when it is a Python one."""
    provider = activity.get("provider")
    if isinstance(provider, dict) and provider.get("type") == "python":
        return provider
    return None
