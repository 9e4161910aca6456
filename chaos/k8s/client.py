"""The Kubernetes API as the fault and probe providers use it: every call carries a timeout.

The kubernetes client (37.x) has no default timeout: a call to an API server that accepts
the connection and never answers blocks forever. `KubeApi` passes `_request_timeout` on
every call and turns client, HTTP and socket errors into the typed errors of
`chaos.k8s.errors`.

Where the cluster is, from the experiment's configuration: `k8s_kubeconfig` (a kubeconfig
path or a list of them separated like PATH; else env `KUBECONFIG`, else `~/.kube/config`;
a list is merged by the kubernetes client's own loader, as kubectl merges it),
`k8s_context` (else the current context: the first file that sets one),
`k8s_request_timeout_s` (default 10 s). Inside a pod with no kubeconfig, the in-cluster
service account is used.

A 401 or 403 raises `KubernetesForbidden` naming the verb, resource and namespace that were
refused and the RBAC rule to add (`chaos.k8s.permissions`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from chaos.k8s import permissions
from chaos.k8s.errors import (
    KubernetesError,
    KubernetesNotFound,
    KubernetesUnreachable,
)
from chaos.k8s.permissions import Permission, refusal

KUBECONFIG_KEY = "k8s_kubeconfig"
CONTEXT_KEY = "k8s_context"
TIMEOUT_KEY = "k8s_request_timeout_s"
DEFAULT_TIMEOUT_S = 10.0
MERGE_PATCH = "application/merge-patch+json"

T = TypeVar("T")


class KubeApi:
    """The few API calls the providers need, each with `_request_timeout=timeout_s` and
    the RBAC right it needs (`chaos.k8s.permissions`), named when the server refuses."""

    def __init__(self, api_client: k8s.ApiClient, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, not {timeout_s}")
        self.api_client = api_client
        self.timeout_s = float(timeout_s)
        self.core = k8s.CoreV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.networking = k8s.NetworkingV1Api(api_client)
        self.version_api = k8s.VersionApi(api_client)

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self,
        permission: Permission | None,
        namespace: str | None,
        what: str,
        func: Callable[..., T],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        try:
            return func(*args, _request_timeout=self.timeout_s, **kwargs)
        except k8s.ApiException as exc:
            if exc.status == 404:
                raise KubernetesNotFound(f"{what}: not found", status=404) from exc
            if exc.status in (401, 403):
                raise refusal(
                    exc.status, _status_message(exc), permission, namespace, what, self.host
                ) from exc
            reason = _status_message(exc)
            raise KubernetesError(f"{what}: HTTP {exc.status}: {reason}", exc.status) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubernetesUnreachable(
                f"{what}: the API server at {self.host} did not answer within "
                f"{self.timeout_s:g} s ({type(exc).__name__}: {exc})"
            ) from exc
        except ValidationError as exc:
            raise KubernetesError(f"{what}: unexpected response from {self.host}: {exc}") from exc

    # -- cluster ---------------------------------------------------------------------------

    def version(self) -> k8s.VersionInfo:
        # /version is a non-resource URL every authenticated identity may read.
        return self._call(None, None, "get version", self.version_api.get_code)

    def read_namespace(self, namespace: str) -> k8s.V1Namespace:
        return self._call(
            permissions.GET_NAMESPACE,
            namespace,
            f"get namespace {namespace}",
            self.core.read_namespace,
            namespace,
        )

    # -- pods ------------------------------------------------------------------------------

    def list_pods(self, namespace: str, label_selector: str) -> list[k8s.V1Pod]:
        pods = self._call(
            permissions.LIST_PODS,
            namespace,
            f"list pods {label_selector!r} in {namespace}",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=label_selector,
        )
        return list(pods.items or [])

    def delete_pod(self, namespace: str, name: str, grace_period_seconds: int) -> None:
        self._call(
            permissions.DELETE_POD,
            namespace,
            f"delete pod {namespace}/{name}",
            self.core.delete_namespaced_pod,
            name,
            namespace,
            grace_period_seconds=grace_period_seconds,
        )

    # -- deployments -----------------------------------------------------------------------

    def read_deployment(self, namespace: str, name: str) -> k8s.V1Deployment:
        return self._call(
            permissions.GET_DEPLOYMENT,
            namespace,
            f"get deployment {namespace}/{name}",
            self.apps.read_namespaced_deployment,
            name,
            namespace,
        )

    def list_deployments(self, namespace: str) -> list[k8s.V1Deployment]:
        deployments = self._call(
            permissions.LIST_DEPLOYMENTS,
            namespace,
            f"list deployments in {namespace}",
            self.apps.list_namespaced_deployment,
            namespace,
        )
        return list(deployments.items or [])

    def read_scale(self, namespace: str, name: str) -> int:
        scale = self._call(
            permissions.GET_SCALE,
            namespace,
            f"get scale of deployment {namespace}/{name}",
            self.apps.read_namespaced_deployment_scale,
            name,
            namespace,
        )
        return int(scale.spec.replicas or 0) if scale.spec else 0

    def patch_scale(self, namespace: str, name: str, replicas: int) -> int:
        scale = self._call(
            permissions.PATCH_SCALE,
            namespace,
            f"scale deployment {namespace}/{name} to {replicas}",
            self.apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            {"spec": {"replicas": replicas}},
            _content_type=MERGE_PATCH,
        )
        return int(scale.spec.replicas or 0) if scale.spec else 0

    # -- network policies ------------------------------------------------------------------

    def create_network_policy(self, namespace: str, body: Mapping[str, Any]) -> k8s.V1NetworkPolicy:
        return self._call(
            permissions.CREATE_NETWORK_POLICY,
            namespace,
            f"create network policy in {namespace}",
            self.networking.create_namespaced_network_policy,
            namespace,
            dict(body),
        )

    def list_network_policies(
        self, namespace: str, label_selector: str | None = None
    ) -> list[k8s.V1NetworkPolicy]:
        policies = self._call(
            permissions.LIST_NETWORK_POLICIES,
            namespace,
            f"list network policies in {namespace}",
            self.networking.list_namespaced_network_policy,
            namespace,
            label_selector=label_selector,
        )
        return list(policies.items or [])

    def delete_network_policy(self, namespace: str, name: str) -> bool:
        """Delete a policy; False when it was already gone."""
        try:
            self._call(
                permissions.DELETE_NETWORK_POLICY,
                namespace,
                f"delete network policy {namespace}/{name}",
                self.networking.delete_namespaced_network_policy,
                name,
                namespace,
            )
        except KubernetesNotFound:
            return False
        return True

    # -- nodes (the opt-in node-drain ClusterRole) -------------------------------------------

    def read_node(self, name: str) -> k8s.V1Node:
        return self._call(permissions.GET_NODE, None, f"get node {name}", self.core.read_node, name)

    def list_nodes(self, label_selector: str) -> list[k8s.V1Node]:
        nodes = self._call(
            permissions.LIST_NODES,
            None,
            f"list nodes {label_selector!r}",
            self.core.list_node,
            label_selector=label_selector,
        )
        return list(nodes.items or [])

    def set_unschedulable(self, name: str, unschedulable: bool) -> None:
        """Cordon (True) or uncordon (False) a node."""
        self._call(
            permissions.PATCH_NODE,
            None,
            f"{'cordon' if unschedulable else 'uncordon'} node {name}",
            self.core.patch_node,
            name,
            {"spec": {"unschedulable": unschedulable}},
            _content_type=MERGE_PATCH,
        )

    def list_pods_on_node(self, node: str) -> list[k8s.V1Pod]:
        pods = self._call(
            permissions.LIST_PODS_ON_NODE,
            None,
            f"list pods on node {node} in every namespace",
            self.core.list_pod_for_all_namespaces,
            field_selector=f"spec.nodeName={node}",
        )
        return list(pods.items or [])

    def evict_pod(self, namespace: str, name: str, api_version: str) -> None:
        """Ask the Eviction API to evict a pod; PodDisruptionBudgets apply (a refusal is
        a `KubernetesError` with status 429). `api_version`: `policy/v1` from Kubernetes
        1.22, `policy/v1beta1` before (`eviction_api_version`)."""
        body = {
            "apiVersion": api_version,
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        self._call(
            permissions.EVICT_POD,
            namespace,
            f"evict pod {namespace}/{name}",
            self.core.create_namespaced_pod_eviction,
            name,
            namespace,
            body,
        )

    def eviction_api_version(self) -> str:
        """The Eviction API version this server speaks (policy/v1 exists from 1.22)."""
        info = self.version()
        minor = "".join(char for char in str(info.minor or "") if char.isdigit())
        if str(info.major) == "1" and minor and int(minor) < 22:
            return "policy/v1beta1"
        return "policy/v1"


def _status_message(exc: k8s.ApiException) -> str:
    """The `message` of the Status object the API server returns with an error."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(exc.reason or "")
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or "")


def _kubeconfig_paths(configuration: Mapping[str, Any]) -> list[Path]:
    """The kubeconfig files, in order: configuration `k8s_kubeconfig`, else env
    `KUBECONFIG` (either may be a list separated like PATH), else ~/.kube/config."""
    raw = str(configuration.get(KUBECONFIG_KEY) or os.environ.get("KUBECONFIG") or "")
    if raw:
        return [Path(part).expanduser() for part in raw.split(os.pathsep) if part]
    default = Path.home() / ".kube" / "config"
    return [default] if default.exists() else []


def _current_context(paths: list[Path]) -> str | None:
    """The current context as kubectl picks it from a list: the first file that sets one.
    (The client's merger lets the last file win here; for everything else it merges as
    kubectl does: the first file to define a cluster, user or context wins.)"""
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(document, dict) and document.get("current-context"):
            return str(document["current-context"])
    return None


def cluster_settings(configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings that name this cluster, resolved now (absolute kubeconfig paths, the
    context that is current now), so an undo run later reaches the same cluster even if
    the working directory or the kubeconfig's current context changed meanwhile."""
    configuration = configuration or {}
    settings: dict[str, Any] = {}
    paths = _kubeconfig_paths(configuration)
    if paths:
        settings[KUBECONFIG_KEY] = os.pathsep.join(str(path.resolve()) for path in paths)
    context = configuration.get(CONTEXT_KEY) or _current_context(paths)
    if context:
        settings[CONTEXT_KEY] = str(context)
    if configuration.get(TIMEOUT_KEY):
        settings[TIMEOUT_KEY] = float(configuration[TIMEOUT_KEY])
    return settings


def connect(configuration: Mapping[str, Any] | None = None) -> KubeApi:
    """A `KubeApi` for the cluster named by the configuration (see the module docstring)."""
    configuration = configuration or {}
    timeout_s = float(configuration.get(TIMEOUT_KEY) or DEFAULT_TIMEOUT_S)
    client_configuration = k8s.Configuration()
    # urllib3 retries a timed-out read three more times by default; one timeout is the bound.
    client_configuration.retries = 0
    paths = _kubeconfig_paths(configuration)
    try:
        if paths:
            existing = [path for path in paths if path.exists()]
            if not existing:
                listed = os.pathsep.join(str(path) for path in paths)
                raise KubernetesUnreachable(f"kubeconfig {listed} does not exist")
            # The client's own loader merges a list the way kubectl does.
            k8s_config.load_kube_config(
                config_file=os.pathsep.join(str(path) for path in existing),
                context=configuration.get(CONTEXT_KEY) or _current_context(existing),
                client_configuration=client_configuration,
                persist_config=False,
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=client_configuration)
        else:
            raise KubernetesUnreachable(
                "no Kubernetes configuration found: set configuration "
                f"{KUBECONFIG_KEY!r} or env KUBECONFIG, or create ~/.kube/config "
                "(`gameday lab up` creates a kind cluster and its context)"
            )
    except ConfigException as exc:
        raise KubernetesUnreachable(f"cannot load Kubernetes configuration: {exc}") from exc
    return KubeApi(k8s.ApiClient(client_configuration), timeout_s=timeout_s)


@contextmanager
def session(configuration: Mapping[str, Any] | None = None) -> Iterator[KubeApi]:
    """`connect()` as a context manager that closes the connection pool."""
    api = connect(configuration)
    try:
        yield api
    finally:
        api.close()
