"""Our faults as experiment activities, chosen for the target: the Kubernetes faults on a
cluster, the mesh's process and resource faults on the local shop. Network and HTTP faults
use the mesh's providers on every target (the engine maps them to the pods' sidecars for
`--target k8s`)."""

from __future__ import annotations

from typing import Any

from chaos.importers.model import ImportTarget
from chaos.importers.selection import Selection

# A network fault outlives its planned duration by this much before it expires on its own
# (when the runner died and nobody rolled it back).
TTL_MARGIN_S = 60.0

Activity = dict[str, Any]
HTTP_ON_K8S = (
    "HTTP faults need the built-in fault proxy (the cluster's Toxiproxy sidecars have no "
    "HTTP toxics): import with --target local or mesh"
)
RESOURCES_ON_K8S = "resource faults run on the local mesh only: import with --target local"


def call(name: str, module: str, func: str, arguments: dict[str, Any], kind: str) -> Activity:
    return {
        "type": kind,
        "name": name,
        "provider": {"type": "python", "module": module, "func": func, "arguments": arguments},
    }


def action(name: str, module: str, func: str, arguments: dict[str, Any]) -> Activity:
    return call(name, module, func, arguments, "action")


def paused(activity: Activity, after_s: float | None) -> Activity:
    if after_s:
        activity["pauses"] = {"after": after_s}
    return activity


def ttl_s(duration_s: float | None) -> float:
    return (duration_s or 0) + TTL_MARGIN_S


def kill(name: str, selection: Selection, target: ImportTarget, grace_s: int) -> Activity:
    if target == "k8s":
        mode = "all" if selection.every else "percent" if selection.percent else "count"
        arguments: dict[str, Any] = {
            "label_selector": selection.label_selector,
            "namespace": selection.namespace,
            "mode": mode,
            **({} if selection.every else selection.amount()),
            "grace_period_seconds": grace_s,
        }
        return action(name, "chaos.faults.kubernetes", "kill_pods", arguments)
    signal = "SIGKILL" if grace_s == 0 else "SIGTERM"
    arguments = {"service": selection.service, **selection.amount(), "signal": signal}
    return action(name, "chaos.faults.process", "kill_replicas", arguments)


def network_target(service: str | None, edge: str | None) -> dict[str, str]:
    return {"edge": edge} if edge else {"service": str(service)}


def latency(
    name: str, where: dict[str, str], latency_ms: int, jitter_ms: int, duration_s: float | None
) -> Activity:
    arguments = {**where, "latency_ms": latency_ms, "jitter_ms": jitter_ms}
    arguments["ttl_s"] = ttl_s(duration_s)
    return action(name, "chaos.faults.network", "add_latency", arguments)


def bandwidth(
    name: str, where: dict[str, str], rate_kbps: int, duration_s: float | None
) -> Activity:
    arguments = {**where, "rate_kbps": rate_kbps, "ttl_s": ttl_s(duration_s)}
    return action(name, "chaos.faults.network", "limit_bandwidth", arguments)


def partition(name: str, where: dict[str, str], duration_s: float | None) -> Activity:
    arguments = {**where, "mode": "blackhole", "ttl_s": ttl_s(duration_s)}
    return action(name, "chaos.faults.network", "partition", arguments)


def http_fault(
    name: str, func: str, where: dict[str, str], arguments: dict[str, Any], duration_s: float | None
) -> Activity:
    return action(
        name, "chaos.faults.http", func, {**where, **arguments, "ttl_s": ttl_s(duration_s)}
    )


def rollback_for(activity: Activity) -> Activity | None:
    """The rollback that lifts a network or HTTP fault (others are lifted by their ledger
    entries' undos when the method ends)."""
    provider = activity["provider"]
    if provider["module"] not in ("chaos.faults.network", "chaos.faults.http"):
        return None
    where = {k: v for k, v in provider["arguments"].items() if k in ("edge", "service")}
    func = "heal_partition" if provider["func"] == "partition" else "remove_toxics"
    return action(f"undo-{activity['name']}", "chaos.faults.network", func, where)
