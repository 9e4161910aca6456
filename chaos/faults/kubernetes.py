"""Faults on a Kubernetes cluster through its API: pod kills, partitions, scaling.

Each fault checks its blast radius first (`chaos.safety.k8s_scope`: the namespace must be
allow-listed in the experiment's configuration `k8s_namespaces`, system namespaces are
refused, an empty selector is refused), then writes its ledger intent with the undo that
reverses it, then acts, then records the fault as applied. With `dry_run=True` (or
configuration `gameday_dry_run: true`) a fault only reads and returns what it would touch.

Undos record the cluster they act on (kubeconfig, context, timeout) in their arguments, so
`gameday rollback` can run them without the experiment. Every undo is idempotent.

Network toxics through the pods' Toxiproxy sidecars live in
`chaos.faults.kubernetes_network`, the node drain in `chaos.faults.kubernetes_node`.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any, Literal

from kubernetes import client as k8s

from chaos.faults.errors import FaultError, InvalidFaultArgument, TargetNotFound
from chaos.faults.kubernetes_ledger import (
    Configuration,
    NothingChanged,
    cluster_of,
    connect_to,
    fault_scope,
    record_and_apply,
    refused,
    settle,
)
from chaos.faults.kubernetes_pods import (
    KillMode,
    how_many,
    is_ready,
    live_pods,
    pod_names,
)
from chaos.k8s.errors import KubernetesError, KubernetesNotFound
from chaos.safety.k8s_scope import (
    BlastRadiusRefused,
    Requirement,
    label_selector_object,
    parse_selector,
)

__all__ = [
    "confirm_pods_replaced",
    "kill_pods",
    "partition",
    "remove_partition",
    "restore_scale",
    "scale_deployment",
]

MODULE = __name__
DEFAULT_NAMESPACE = "gameday-lab"
MANAGED_BY = "chaos-gameday"
FAULT_ID_LABEL = "chaos-gameday.dev/fault-id"
MANAGED_SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY},{FAULT_ID_LABEL}"
DEFAULT_REPLACE_TIMEOUT_S = 120.0
POLL_S = 1.0


class PodsNotReplaced(FaultError):
    """Killed pods were not replaced by ready ones within the timeout."""


# -- pod kills ----------------------------------------------------------------------------


def kill_pods(
    label_selector: str | dict[str, str],
    namespace: str = DEFAULT_NAMESPACE,
    mode: KillMode = "one",
    count: int | None = None,
    percent: float | None = None,
    grace_period_seconds: int = 0,
    seed: int | None = None,
    allow_unmanaged: bool = False,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Delete pods matching `label_selector`: `one` (at random), `all`, `count` pods or
    `percent` of them (rounded down, at least one), with `grace_period_seconds` (0: killed
    at once, like a crash). Pods without an owning controller are refused unless
    `allow_unmanaged` (nothing would bring them back). Undo: confirm_pods_replaced, which
    waits until as many pods are ready again as were ready before."""
    scope = fault_scope(configuration, dry_run)
    selector = scope.check(namespace, label_selector)
    if grace_period_seconds < 0:
        raise InvalidFaultArgument(f"grace_period_seconds must be >= 0, not {grace_period_seconds}")
    with connect_to(configuration) as api:
        pods = live_pods(api.list_pods(namespace, selector))
        if not pods:
            raise TargetNotFound(f"no running pod matches {selector!r} in namespace {namespace}")
        unmanaged = [name for name in pod_names(pods) if not _owned(pods, name)]
        if unmanaged and not allow_unmanaged:
            raise BlastRadiusRefused(
                f"pods {unmanaged} have no owning controller, so nothing would replace them; "
                "set allow_unmanaged: true to kill them anyway"
            )
        ready_before = sum(1 for pod in pods if is_ready(pod))
        victims = sorted(
            random.Random(seed).sample(pod_names(pods), how_many(mode, len(pods), count, percent))
        )
        if scope.dry_run:
            return {
                "dry_run": True,
                "action": "kill_pods",
                "namespace": namespace,
                "label_selector": selector,
                "matched": pod_names(pods),
                "would_delete": victims,
                "grace_period_seconds": grace_period_seconds,
            }

        def apply() -> dict[str, Any]:
            killed: list[str] = []
            for name in victims:
                try:
                    api.delete_pod(namespace, name, grace_period_seconds)
                except KubernetesNotFound:
                    pass  # gone meanwhile: the outcome we wanted
                except KubernetesError as exc:
                    if not killed and refused(exc):
                        raise NothingChanged(exc) from exc
                    raise
                killed.append(name)
            return {"namespace": namespace, "killed": killed, "matched": pod_names(pods)}

        return record_and_apply(
            kind="k8s.kill_pods",
            target=f"{namespace}/{selector}",
            undo_func="confirm_pods_replaced",
            undo_arguments={
                "label_selector": selector,
                "namespace": namespace,
                "expected_ready": ready_before,
                "cluster": cluster_of(configuration),
            },
            configuration=configuration,
            apply=apply,
            module=MODULE,
        )


def _owned(pods: list[k8s.V1Pod], name: str) -> bool:
    for pod in pods:
        if pod.metadata and pod.metadata.name == name:
            return any(ref.controller for ref in pod.metadata.owner_references or [])
    return False


def confirm_pods_replaced(
    label_selector: str,
    namespace: str = DEFAULT_NAMESPACE,
    expected_ready: int = 1,
    timeout_s: float = DEFAULT_REPLACE_TIMEOUT_S,
    cluster: dict[str, Any] | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of `kill_pods`: a killed pod cannot be un-killed, so wait until its controller
    has replaced it: at least `expected_ready` ready pods match the selector again.
    Raises PodsNotReplaced after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    ready: list[str] = []
    with connect_to(configuration, cluster) as api:
        for _ in range(int(timeout_s / POLL_S) + 2):
            ready = pod_names(
                [pod for pod in api.list_pods(namespace, label_selector) if is_ready(pod)]
            )
            if len(ready) >= expected_ready or time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
    if len(ready) < expected_ready:
        raise PodsNotReplaced(
            f"only {len(ready)} of {expected_ready} pods matching {label_selector!r} in "
            f"{namespace} are ready after {timeout_s:g} s"
        )
    settle(
        configuration,
        "confirm_pods_replaced",
        lambda args: (
            args.get("namespace") == namespace and args.get("label_selector") == label_selector
        ),
        module=MODULE,
    )
    return {"namespace": namespace, "ready": ready}


# -- partitions ---------------------------------------------------------------------------


def _deny_from(
    name: str,
    namespace: str,
    isolated: list[Requirement],
    denied: list[Requirement],
    fault_id: str,
) -> dict[str, Any]:
    """A NetworkPolicy isolating the `isolated` pods from the `denied` pods.

    NetworkPolicies only allow, so "deny from X" is written as "allow from every pod that
    is not X": one peer per requirement of X, each matching the pods that fail it, plus
    every other namespace.
    """
    peers: list[dict[str, Any]] = [
        {"podSelector": label_selector_object([requirement.negated()])} for requirement in denied
    ]
    peers.append(
        {
            "namespaceSelector": {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "NotIn",
                        "values": [namespace],
                    }
                ]
            }
        }
    )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, FAULT_ID_LABEL: fault_id},
        },
        "spec": {
            "podSelector": label_selector_object(isolated),
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers}],
        },
    }


def partition(
    from_selector: str | dict[str, str],
    to_selector: str | dict[str, str],
    namespace: str = DEFAULT_NAMESPACE,
    direction: Literal["both", "one-way"] = "both",
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Cut traffic between two label sets with deny NetworkPolicies: the `to` pods stop
    accepting connections from the `from` pods (and, with `direction: both`, the other way
    round too). Needs a CNI that enforces NetworkPolicies (kind's default kindnet does since
    kind 0.24). Undo: remove_partition, which deletes the policies."""
    scope = fault_scope(configuration, dry_run)
    scope.check_namespace(namespace)
    from_text, from_reqs = parse_selector(from_selector)
    to_text, to_reqs = parse_selector(to_selector)
    if direction not in ("both", "one-way"):
        raise InvalidFaultArgument(f"direction must be 'both' or 'one-way', not {direction!r}")
    fault_id = uuid.uuid4().hex[:10]
    prefix = f"gameday-partition-{fault_id}"
    policies = [_deny_from(f"{prefix}-in", namespace, to_reqs, from_reqs, fault_id)]
    if direction == "both":
        policies.append(_deny_from(f"{prefix}-out", namespace, from_reqs, to_reqs, fault_id))
    names = [policy["metadata"]["name"] for policy in policies]
    with connect_to(configuration) as api:
        from_pods = pod_names(live_pods(api.list_pods(namespace, from_text)))
        to_pods = pod_names(live_pods(api.list_pods(namespace, to_text)))
        for text, found in ((from_text, from_pods), (to_text, to_pods)):
            if not found:
                raise TargetNotFound(f"no running pod matches {text!r} in namespace {namespace}")
        if scope.dry_run:
            return {
                "dry_run": True,
                "action": "partition",
                "namespace": namespace,
                "from_selector": from_text,
                "to_selector": to_text,
                "from_pods": from_pods,
                "to_pods": to_pods,
                "would_create": [f"networkpolicy/{name}" for name in names],
                "policies": policies,
            }

        def apply() -> dict[str, Any]:
            for index, policy in enumerate(policies):
                try:
                    api.create_network_policy(namespace, policy)
                except KubernetesError as exc:
                    if index == 0 and refused(exc):
                        raise NothingChanged(exc) from exc
                    raise
            return {
                "namespace": namespace,
                "policies": names,
                "from_pods": from_pods,
                "to_pods": to_pods,
            }

        return record_and_apply(
            kind="k8s.partition",
            target=f"{namespace}/{from_text} x {to_text}",
            undo_func="remove_partition",
            undo_arguments={
                "namespace": namespace,
                "policies": names,
                "cluster": cluster_of(configuration),
            },
            configuration=configuration,
            apply=apply,
            module=MODULE,
        )


def remove_partition(
    namespace: str = DEFAULT_NAMESPACE,
    policies: list[str] | None = None,
    cluster: dict[str, Any] | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of `partition`: delete the named policies, or (without `policies`) every
    partition policy this toolkit created in the namespace. Idempotent."""
    deleted: list[str] = []
    with connect_to(configuration, cluster) as api:
        if policies is None:
            policies = sorted(
                str(policy.metadata.name)
                for policy in api.list_network_policies(namespace, MANAGED_SELECTOR)
                if policy.metadata
            )
        for name in policies:
            if not name.startswith("gameday-partition-"):
                raise InvalidFaultArgument(
                    f"refusing to delete network policy {name!r}: not created by a partition fault"
                )
            if api.delete_network_policy(namespace, name):
                deleted.append(name)
    removed = set(policies)
    settle(
        configuration,
        "remove_partition",
        lambda args: (
            args.get("namespace") == namespace and set(args.get("policies") or []) <= removed
        ),
        module=MODULE,
    )
    return {"namespace": namespace, "deleted": deleted}


# -- scaling ------------------------------------------------------------------------------


def scale_deployment(
    name: str,
    replicas: int,
    namespace: str = DEFAULT_NAMESPACE,
    dry_run: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Set a deployment's replica count (0 takes a service away entirely).
    Undo: restore_scale, back to the count it had before."""
    scope = fault_scope(configuration, dry_run)
    scope.check_namespace(namespace)
    if not name:
        raise InvalidFaultArgument("name the deployment to scale")
    if replicas < 0:
        raise InvalidFaultArgument(f"replicas must be >= 0, not {replicas}")
    with connect_to(configuration) as api:
        try:
            previous = api.read_scale(namespace, name)
        except KubernetesNotFound as exc:
            raise TargetNotFound(f"no deployment {name!r} in namespace {namespace}") from exc
        if scope.dry_run:
            return {
                "dry_run": True,
                "action": "scale_deployment",
                "namespace": namespace,
                "would_scale": f"deployment/{name}",
                "from_replicas": previous,
                "to_replicas": replicas,
            }

        def apply() -> dict[str, Any]:
            try:
                now = api.patch_scale(namespace, name, replicas)
            except KubernetesError as exc:
                if refused(exc):
                    raise NothingChanged(exc) from exc
                raise
            return {"namespace": namespace, "previous_replicas": previous, "replicas": now}

        return record_and_apply(
            kind="k8s.scale",
            target=f"{namespace}/deployment/{name}",
            undo_func="restore_scale",
            undo_arguments={
                "name": name,
                "namespace": namespace,
                "replicas": previous,
                "cluster": cluster_of(configuration),
            },
            configuration=configuration,
            apply=apply,
            module=MODULE,
        )


def restore_scale(
    name: str,
    replicas: int,
    namespace: str = DEFAULT_NAMESPACE,
    cluster: dict[str, Any] | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of `scale_deployment`: set the replica count back. Idempotent; a deployment
    that no longer exists has nothing left to restore."""
    with connect_to(configuration, cluster) as api:
        try:
            now = api.patch_scale(namespace, name, replicas)
        except KubernetesNotFound:
            now = None
    settle(
        configuration,
        "restore_scale",
        # Only the entries that restore this count: after 3 -> 1 -> 0, restoring 1 must
        # leave the entry that restores 3 outstanding.
        lambda args: (
            args.get("namespace") == namespace
            and args.get("name") == name
            and args.get("replicas") == replicas
        ),
        module=MODULE,
    )
    return {"namespace": namespace, "name": name, "replicas": now}
