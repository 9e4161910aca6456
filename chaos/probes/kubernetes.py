"""Probes on a Kubernetes cluster: ready pods and a deployment's available replicas.

They only read, so no allow-list applies; every call carries the client timeout
(configuration `k8s_request_timeout_s`, default 10 s). Cluster settings as in
`chaos.k8s.client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.k8s.client import connect
from chaos.k8s.errors import KubernetesError, KubernetesNotFound, KubernetesUnreachable
from chaos.probes.errors import InvalidProbeArgument, ProbeTargetUnknown, ProbeUnreachable
from chaos.safety.k8s_scope import BlastRadiusRefused, normalize_selector

__all__ = [
    "all_pods_ready",
    "api_server_version",
    "count_ready_pods",
    "deployment_available_replicas",
    "namespace_active",
]

DEFAULT_NAMESPACE = "gameday-lab"
Configuration = Mapping[str, Any] | None


def _selector(label_selector: str | dict[str, str]) -> str:
    try:
        return normalize_selector(label_selector)
    except BlastRadiusRefused as exc:
        raise InvalidProbeArgument(str(exc)) from exc


def _list_pods(
    label_selector: str | dict[str, str], namespace: str, configuration: Configuration
) -> list[Any]:
    selector = _selector(label_selector)
    try:
        with connect(configuration) as api:
            return api.list_pods(namespace, selector)
    except KubernetesUnreachable as exc:
        raise ProbeUnreachable(str(exc)) from exc
    except KubernetesError as exc:
        raise ProbeTargetUnknown(str(exc)) from exc


def ready_and_live(pods: list[Any]) -> tuple[int, int]:
    """(ready, live) among the pods; terminating pods count as not live."""
    live = [pod for pod in pods if pod.metadata and pod.metadata.deletion_timestamp is None]
    ready = [
        pod
        for pod in live
        if pod.status
        and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    ]
    return len(ready), len(live)


def _ready_counts(
    label_selector: str | dict[str, str], namespace: str, configuration: Configuration
) -> tuple[int, int]:
    """(ready, live) pods matching the selector."""
    return ready_and_live(_list_pods(label_selector, namespace, configuration))


def count_ready_pods(
    label_selector: str | dict[str, str],
    namespace: str = DEFAULT_NAMESPACE,
    configuration: Configuration = None,
) -> int:
    """How many pods matching the selector are Ready (terminating pods are not counted)."""
    return _ready_counts(label_selector, namespace, configuration)[0]


def all_pods_ready(
    label_selector: str | dict[str, str],
    namespace: str = DEFAULT_NAMESPACE,
    min_count: int = 1,
    configuration: Configuration = None,
) -> bool:
    """True when at least `min_count` pods match and every one of them is Ready."""
    if min_count < 0:
        raise InvalidProbeArgument(f"min_count must be >= 0, not {min_count}")
    ready, live = _ready_counts(label_selector, namespace, configuration)
    return live >= min_count and ready == live


def deployment_available_replicas(
    name: str,
    namespace: str = DEFAULT_NAMESPACE,
    configuration: Configuration = None,
) -> int:
    """The deployment's `status.availableReplicas` (0 when none is available)."""
    if not name:
        raise InvalidProbeArgument("name the deployment")
    try:
        with connect(configuration) as api:
            deployment = api.read_deployment(namespace, name)
    except KubernetesNotFound as exc:
        raise ProbeTargetUnknown(f"no deployment {name!r} in namespace {namespace}") from exc
    except KubernetesUnreachable as exc:
        raise ProbeUnreachable(str(exc)) from exc
    except KubernetesError as exc:
        raise ProbeTargetUnknown(str(exc)) from exc
    status = deployment.status
    return int(status.available_replicas or 0) if status else 0


def api_server_version(configuration: Configuration = None) -> str:
    """The API server's version (`gitVersion`, e.g. "v1.33.1"): the cluster answers."""
    try:
        with connect(configuration) as api:
            return str(api.version().git_version)
    except KubernetesUnreachable as exc:
        raise ProbeUnreachable(str(exc)) from exc
    except KubernetesError as exc:
        raise ProbeTargetUnknown(str(exc)) from exc


def namespace_active(
    namespace: str = DEFAULT_NAMESPACE, configuration: Configuration = None
) -> bool:
    """True when the namespace exists and is Active (not Terminating); false when absent."""
    try:
        with connect(configuration) as api:
            found = api.read_namespace(namespace)
    except KubernetesNotFound:
        return False
    except KubernetesUnreachable as exc:
        raise ProbeUnreachable(str(exc)) from exc
    except KubernetesError as exc:
        raise ProbeTargetUnknown(str(exc)) from exc
    return bool(found.status and found.status.phase == "Active")
