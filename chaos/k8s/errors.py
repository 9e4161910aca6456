"""Typed errors of the Kubernetes client wrapper."""

from __future__ import annotations


class KubernetesError(Exception):
    """Base of every error talking to the Kubernetes API; `status` is the HTTP status
    (0 when the API could not be reached)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class KubernetesUnreachable(KubernetesError):
    """The API server did not answer in time, refused the connection, or no cluster
    configuration (kubeconfig, context, in-cluster service account) was found."""


class KubernetesNotFound(KubernetesError):
    """The object does not exist (HTTP 404)."""


class KubernetesForbidden(KubernetesError):
    """The API server refused the request: HTTP 403 (RBAC said no) or 401 (the credentials
    were not accepted). The message names the verb, resource and namespace refused and the
    RBAC rule that would allow it."""
