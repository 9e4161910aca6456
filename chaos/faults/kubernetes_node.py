"""Node drain: cordon a node and evict its pods through the Eviction API, like `kubectl drain`.

Blast radius: the node is named (`node`) or selected by a label selector (`node_selector`;
an empty or negation-only one is refused), never implied. Control-plane nodes (label
`node-role.kubernetes.io/control-plane` or `.../master`) are refused unless
`allow_control_plane`. Only pods of the experiment's allow-listed namespaces
(`k8s_namespaces`) are evicted; pods of other namespaces, DaemonSet pods (their controller
ignores cordons) and mirror pods stay where they are and are listed as `left_running`. A
pod with no owning controller is refused unless `allow_unmanaged` (nothing would bring it
back).

Evictions go through the Eviction API (`policy/v1beta1` before Kubernetes 1.22,
`policy/v1` after), so PodDisruptionBudgets are respected: a refused eviction (HTTP 429)
is retried until `eviction_timeout_s` and then reported under `refused`; the node stays
cordoned either way. Undo: `uncordon_nodes` makes the nodes this fault cordoned schedulable
again (evicted pods are not brought back: their controllers replace them elsewhere).

Needs the opt-in ClusterRole of k8s/runner/node-drain.yaml. Ledger, dry run and undo
arguments as in `chaos.faults.kubernetes`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kubernetes import client as k8s

from chaos.faults.errors import InvalidFaultArgument, TargetNotFound
from chaos.faults.kubernetes_ledger import (
    Configuration,
    cluster_of,
    connect_to,
    fault_scope,
    record_and_apply,
    settle,
)
from chaos.faults.kubernetes_pods import live_pods
from chaos.k8s.client import KubeApi
from chaos.k8s.errors import KubernetesError, KubernetesNotFound
from chaos.safety.k8s_scope import BlastRadiusRefused, K8sScope, normalize_selector

__all__ = ["drain_node", "uncordon_nodes"]

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TOO_MANY_REQUESTS = 429
POLL_S = 1.0
MAX_EVICTION_TIMEOUT_S = 600


def _nodes(
    api: KubeApi, node: str | None, node_selector: str | dict[str, str] | None
) -> list[k8s.V1Node]:
    if bool(node) == bool(node_selector):
        raise InvalidFaultArgument("name the node to drain with exactly one of node, node_selector")
    if node:
        try:
            return [api.read_node(node)]
        except KubernetesNotFound as exc:
            raise TargetNotFound(f"no node {node!r}") from exc
    selector = normalize_selector(node_selector)
    found = api.list_nodes(selector)
    if not found:
        raise TargetNotFound(f"no node matches {selector!r}")
    return found


def _check_control_plane(nodes: list[k8s.V1Node], allow_control_plane: bool) -> None:
    control_plane = sorted(
        str(n.metadata.name)
        for n in nodes
        if any(label in (n.metadata.labels or {}) for label in CONTROL_PLANE_LABELS)
    )
    if control_plane and not allow_control_plane:
        raise BlastRadiusRefused(
            f"node(s) {control_plane} run the cluster's control plane and are refused; set "
            "allow_control_plane: true to drain them anyway"
        )


def _name(pod: k8s.V1Pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def _stays(pod: k8s.V1Pod, scope: K8sScope) -> bool:
    """Pods a drain leaves alone: other namespaces, DaemonSet and mirror pods."""
    try:
        scope.check_namespace(pod.metadata.namespace)
    except BlastRadiusRefused:
        return True
    owners = pod.metadata.owner_references or []
    annotations = pod.metadata.annotations or {}
    return MIRROR_ANNOTATION in annotations or any(o.kind == "DaemonSet" for o in owners)


def _evict_all(
    api: KubeApi, pods: list[str], timeout_s: float, version: str
) -> tuple[list[str], dict[str, str]]:
    """Evict each pod; retry refusals (a PodDisruptionBudget) until `timeout_s`. Returns
    (evicted, refused: pod -> the API server's reason)."""
    evicted: list[str] = []
    refused: dict[str, str] = {}
    pending = list(pods)
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / POLL_S) + 1):
        refused = {}
        for pod in pending:
            namespace, name = pod.split("/", 1)
            try:
                api.evict_pod(namespace, name, version)
            except KubernetesNotFound:
                pass  # gone meanwhile: the outcome we wanted
            except KubernetesError as exc:
                if exc.status != TOO_MANY_REQUESTS:
                    raise
                refused[pod] = str(exc)
                continue
            evicted.append(pod)
        pending = sorted(refused)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return sorted(evicted), refused


def drain_node(
    node: str | None = None,
    node_selector: str | dict[str, str] | None = None,
    allow_control_plane: bool = False,
    allow_unmanaged: bool = False,
    eviction_timeout_s: float = 0,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Cordon the node (`node`, or every node `node_selector` matches) and evict its pods
    in the allow-listed namespaces through the Eviction API; evictions a
    PodDisruptionBudget refuses are retried until `eviction_timeout_s` (0: tried once),
    then listed under `refused`. Undo: uncordon_nodes."""
    scope = fault_scope(configuration, dry_run)
    if not scope.namespaces:
        # The allow-list says whose pods may be evicted: without one, nobody's.
        raise BlastRadiusRefused(
            "no namespaces are allow-listed: add configuration 'k8s_namespaces' to say "
            "whose pods the drain may evict"
        )
    if not 0 <= eviction_timeout_s <= MAX_EVICTION_TIMEOUT_S:
        raise InvalidFaultArgument(
            f"eviction_timeout_s must be between 0 and {MAX_EVICTION_TIMEOUT_S}, "
            f"not {eviction_timeout_s}"
        )
    with connect_to(configuration) as api:
        nodes = _nodes(api, node, node_selector)
        _check_control_plane(nodes, allow_control_plane)
        names = sorted(str(n.metadata.name) for n in nodes)
        # A node already cordoned stays cordoned after the undo: it was not ours to open.
        to_cordon = [str(n.metadata.name) for n in nodes if not (n.spec and n.spec.unschedulable)]
        pods = live_pods([pod for name in names for pod in api.list_pods_on_node(name)])
        leave = sorted(_name(pod) for pod in pods if _stays(pod, scope))
        evict = [pod for pod in pods if not _stays(pod, scope)]
        unmanaged = sorted(
            _name(pod)
            for pod in evict
            if not any(ref.controller for ref in pod.metadata.owner_references or [])
        )
        if unmanaged and not allow_unmanaged:
            raise BlastRadiusRefused(
                f"pods {unmanaged} have no owning controller, so nothing would replace them; "
                "set allow_unmanaged: true to evict them anyway"
            )
        targets = sorted(_name(pod) for pod in evict)
        if scope.dry_run:
            return {
                "dry_run": True,
                "action": "drain_node",
                "nodes": names,
                "would_cordon": to_cordon,
                "would_evict": targets,
                "left_running": leave,
            }

        def apply() -> dict[str, Any]:
            for name in to_cordon:
                api.set_unschedulable(name, True)
            version = api.eviction_api_version()
            evicted, refused = _evict_all(api, targets, eviction_timeout_s, version)
            return {
                "nodes": names,
                "cordoned": to_cordon,
                "evicted": evicted,
                "refused": refused,
                "left_running": leave,
            }

        return record_and_apply(
            kind="k8s.node_drain",
            target=f"node/{','.join(names)}",
            undo_func="uncordon_nodes",
            undo_arguments={"nodes": to_cordon, "cluster": cluster_of(configuration)},
            configuration=configuration,
            apply=apply,
            module=__name__,
        )


def uncordon_nodes(
    nodes: list[str],
    cluster: Mapping[str, Any] | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of `drain_node`: make the nodes schedulable again. Idempotent; a node that no
    longer exists has nothing left to undo."""
    uncordoned: list[str] = []
    with connect_to(configuration, cluster) as api:
        for name in nodes:
            try:
                api.set_unschedulable(name, False)
            except KubernetesNotFound:
                continue
            uncordoned.append(name)
    handled = set(nodes)
    settle(
        configuration,
        "uncordon_nodes",
        lambda args: set(args.get("nodes") or []) <= handled,
        module=__name__,
    )
    return {"uncordoned": uncordoned}
