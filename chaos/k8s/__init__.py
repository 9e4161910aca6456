"""Talking to a Kubernetes cluster: the API client with a timeout on every call, and
port-forwarding to the Toxiproxy sidecars."""

from chaos.k8s.client import KubeApi, connect
from chaos.k8s.errors import (
    KubernetesError,
    KubernetesForbidden,
    KubernetesNotFound,
    KubernetesUnreachable,
)

__all__ = [
    "KubeApi",
    "KubernetesError",
    "KubernetesForbidden",
    "KubernetesNotFound",
    "KubernetesUnreachable",
    "connect",
]
