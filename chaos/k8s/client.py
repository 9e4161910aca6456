"""The Kubernetes API as the fault and probe providers use it: every call carries a timeout.

The kubernetes client (37.x) has no default timeout: a call to an API server that accepts
the connection and never answers blocks forever. `KubeApi` passes `_request_timeout` on
every call and turns client, HTTP and socket errors into the typed errors of
`chaos.k8s.errors`.

Where the cluster is, from the experiment's configuration: `k8s_kubeconfig` (a kubeconfig
path; else env `KUBECONFIG`, else `~/.kube/config`), `k8s_context` (else the kubeconfig's
current context), `k8s_request_timeout_s` (default 10 s). Inside a pod with no kubeconfig,
the in-cluster service account is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from chaos.k8s.errors import KubernetesError, KubernetesNotFound, KubernetesUnreachable

KUBECONFIG_KEY = "k8s_kubeconfig"
CONTEXT_KEY = "k8s_context"
TIMEOUT_KEY = "k8s_request_timeout_s"
DEFAULT_TIMEOUT_S = 10.0
MERGE_PATCH = "application/merge-patch+json"

T = TypeVar("T")


class KubeApi:
    """The few API calls the providers need, each with `_request_timeout=timeout_s`."""

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

    def _call(self, what: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, _request_timeout=self.timeout_s, **kwargs)
        except k8s.ApiException as exc:
            if exc.status == 404:
                raise KubernetesNotFound(f"{what}: not found", status=404) from exc
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
        return self._call("get version", self.version_api.get_code)

    def read_namespace(self, namespace: str) -> k8s.V1Namespace:
        return self._call(f"get namespace {namespace}", self.core.read_namespace, namespace)

    # -- pods ------------------------------------------------------------------------------

    def list_pods(self, namespace: str, label_selector: str) -> list[k8s.V1Pod]:
        pods = self._call(
            f"list pods {label_selector!r} in {namespace}",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=label_selector,
        )
        return list(pods.items or [])

    def delete_pod(self, namespace: str, name: str, grace_period_seconds: int) -> None:
        self._call(
            f"delete pod {namespace}/{name}",
            self.core.delete_namespaced_pod,
            name,
            namespace,
            grace_period_seconds=grace_period_seconds,
        )

    # -- deployments -----------------------------------------------------------------------

    def read_deployment(self, namespace: str, name: str) -> k8s.V1Deployment:
        return self._call(
            f"get deployment {namespace}/{name}",
            self.apps.read_namespaced_deployment,
            name,
            namespace,
        )

    def read_scale(self, namespace: str, name: str) -> int:
        scale = self._call(
            f"get scale of deployment {namespace}/{name}",
            self.apps.read_namespaced_deployment_scale,
            name,
            namespace,
        )
        return int(scale.spec.replicas or 0) if scale.spec else 0

    def patch_scale(self, namespace: str, name: str, replicas: int) -> int:
        scale = self._call(
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
            f"create network policy in {namespace}",
            self.networking.create_namespaced_network_policy,
            namespace,
            dict(body),
        )

    def list_network_policies(
        self, namespace: str, label_selector: str | None = None
    ) -> list[k8s.V1NetworkPolicy]:
        policies = self._call(
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
                f"delete network policy {namespace}/{name}",
                self.networking.delete_namespaced_network_policy,
                name,
                namespace,
            )
        except KubernetesNotFound:
            return False
        return True


def _status_message(exc: k8s.ApiException) -> str:
    """The `message` of the Status object the API server returns with an error."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(exc.reason or "")
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or "")


def _kubeconfig_path(configuration: Mapping[str, Any]) -> Path | None:
    configured = configuration.get(KUBECONFIG_KEY)
    if configured:
        return Path(str(configured)).expanduser()
    from_env = os.environ.get("KUBECONFIG")
    if from_env:
        # Like kubectl, the first file of a colon-separated list holds the contexts we use.
        return Path(from_env.split(os.pathsep)[0]).expanduser()
    default = Path.home() / ".kube" / "config"
    return default if default.exists() else None


def cluster_settings(configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings that name this cluster, resolved now (absolute kubeconfig path, the
    context that is current now), so an undo run later reaches the same cluster even if
    the working directory or the kubeconfig's current context changed meanwhile."""
    configuration = configuration or {}
    settings: dict[str, Any] = {}
    path = _kubeconfig_path(configuration)
    if path is not None:
        settings[KUBECONFIG_KEY] = str(path.resolve())
    context = configuration.get(CONTEXT_KEY)
    if not context and path is not None and path.exists():
        try:
            _, active = k8s_config.list_kube_config_contexts(config_file=str(path))
        except (ConfigException, OSError, ValueError):
            active = None
        context = (active or {}).get("name")
    if context:
        settings[CONTEXT_KEY] = str(context)
    if configuration.get(TIMEOUT_KEY):
        settings[TIMEOUT_KEY] = float(configuration[TIMEOUT_KEY])
    return settings


def connect(configuration: Mapping[str, Any] | None = None) -> KubeApi:
    """A `KubeApi` for the cluster named by the configuration (see the module docstring)."""
    configuration = configuration or {}
    timeout_s = float(configuration.get(TIMEOUT_KEY) or DEFAULT_TIMEOUT_S)
    context = configuration.get(CONTEXT_KEY) or None
    client_configuration = k8s.Configuration()
    # urllib3 retries a timed-out read three more times by default; one timeout is the bound.
    client_configuration.retries = 0
    path = _kubeconfig_path(configuration)
    try:
        if path is not None:
            if not path.exists():
                raise KubernetesUnreachable(f"kubeconfig {path} does not exist")
            k8s_config.load_kube_config(
                config_file=str(path),
                context=context,
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
