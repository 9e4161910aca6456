"""Time to recover on a Kubernetes cluster: seconds until a label set's pods are ready.

The Kubernetes twin of `chaos.probes.replicas.seconds_until_ready`, which the engine maps
to it when an experiment runs with `--target k8s` (see `chaos.engine.k8s_mapping`).

Recovered means as many Ready pods as the Deployments behind the selector want
(`spec.replicas`), not as many as are alive: right after a pod kill, before the ReplicaSet
has created the replacement, every pod still alive may be Ready, and counting those would
report a recovery of ~0 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.k8s.client import connect
from chaos.k8s.errors import KubernetesError, KubernetesUnreachable
from chaos.probes.errors import InvalidProbeArgument, ProbeTargetUnknown, ProbeUnreachable
from chaos.probes.kubernetes import DEFAULT_NAMESPACE, ready_and_live
from chaos.probes.ready_wait import seconds_until_enough_ready
from chaos.safety.k8s_scope import BlastRadiusRefused, Requirement, parse_selector

__all__ = ["desired_and_ready", "seconds_until_pods_ready"]

Configuration = Mapping[str, Any] | None


def _selects(requirements: list[Requirement], deployment: Any) -> bool:
    """Whether the selector picks this Deployment's pods (its pod template's labels)."""
    template = deployment.spec.template if deployment.spec else None
    labels = (template.metadata.labels or {}) if template and template.metadata else {}
    return all(requirement.matches(labels) for requirement in requirements)


def desired_and_ready(
    label_selector: str | dict[str, str],
    namespace: str = DEFAULT_NAMESPACE,
    configuration: Configuration = None,
) -> tuple[int, int, list[str]]:
    """(Ready pods matching the selector, replicas wanted, the Deployments wanting them).

    Replicas wanted: the sum of `spec.replicas` of every Deployment whose pods the selector
    picks; pods of no Deployment (a bare pod, a StatefulSet's) fall back to the live pods."""
    try:
        text, requirements = parse_selector(label_selector)
    except BlastRadiusRefused as exc:
        raise InvalidProbeArgument(str(exc)) from exc
    try:
        with connect(configuration) as api:
            deployments = [d for d in api.list_deployments(namespace) if _selects(requirements, d)]
            pods = api.list_pods(namespace, text)
    except KubernetesUnreachable as exc:
        raise ProbeUnreachable(str(exc)) from exc
    except KubernetesError as exc:
        raise ProbeTargetUnknown(str(exc)) from exc
    ready, live = ready_and_live(pods)
    if not deployments:
        return ready, live, []
    wanted = sum(
        1 if d.spec.replicas is None else int(d.spec.replicas) for d in deployments if d.spec
    )
    return ready, wanted, sorted(str(d.metadata.name) for d in deployments if d.metadata)


def seconds_until_pods_ready(
    label_selector: str | dict[str, str],
    namespace: str = DEFAULT_NAMESPACE,
    min_ready: int | None = None,
    timeout_s: float = 30,
    poll_s: float = 0.5,
    configuration: Configuration = None,
) -> float:
    """Wait until at least `min_ready` pods (default: the replicas the Deployments behind
    the selector want, and at least one) matching the selector are Ready and return the
    seconds that took. Raises `NotReady` after `timeout_s`."""
    owners: list[str] = []

    def count() -> tuple[int, int]:
        ready, wanted, found = desired_and_ready(label_selector, namespace, configuration)
        owners[:] = found
        return ready, wanted

    def describe(ready: int, wanted: int) -> str:
        behind = f" (deployment {', '.join(owners)} wants {wanted})" if owners else ""
        return f"{label_selector}: {ready} of {wanted} pods ready in {namespace}{behind}"

    return seconds_until_enough_ready(count, describe, min_ready, timeout_s, poll_s)
