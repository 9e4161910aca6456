"""Before a run on a Kubernetes target: is the cluster there, and may we use it?

`check_cluster` asks the API server its version and reads every allow-listed namespace,
each call with the configured timeout, before anything starts. It tells apart a cluster
that did not answer, credentials or RBAC that refused a request (naming the verb, resource
and the rule to add), and a namespace that is missing or not Active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.engine.target import CouldNotRun
from chaos.safety.k8s_scope import BlastRadiusRefused, K8sScope


def check_cluster(configuration: Mapping[str, Any]) -> str:
    """Ask the API server its version and read every allow-listed namespace (each call
    with `k8s_request_timeout_s`); return the version. Raises `CouldNotRun`."""
    from chaos.k8s.client import connect
    from chaos.k8s.errors import (
        KubernetesError,
        KubernetesForbidden,
        KubernetesNotFound,
        KubernetesUnreachable,
    )

    try:
        namespaces = K8sScope.from_configuration(configuration).namespaces
    except BlastRadiusRefused as exc:
        raise CouldNotRun(str(exc)) from exc
    try:
        with connect(configuration) as api:
            version = str(api.version().git_version)
            for namespace in namespaces:
                try:
                    found = api.read_namespace(namespace)
                except KubernetesNotFound as exc:
                    raise CouldNotRun(
                        f"namespace {namespace!r} does not exist on {api.host} "
                        "(`gameday lab up` creates gameday-lab)"
                    ) from exc
                phase = found.status.phase if found.status else None
                if phase != "Active":
                    raise CouldNotRun(f"namespace {namespace!r} is {phase}, not Active")
    except KubernetesForbidden as exc:
        raise CouldNotRun(
            f"the Kubernetes cluster answered but refused the request: {exc}"
        ) from exc
    except KubernetesUnreachable as exc:
        raise CouldNotRun(f"the Kubernetes cluster is not reachable: {exc}") from exc
    except KubernetesError as exc:
        raise CouldNotRun(f"the Kubernetes cluster answered with an error: {exc}") from exc
    return version
