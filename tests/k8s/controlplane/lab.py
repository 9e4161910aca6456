"""A lab namespace on the control plane: the shipped runner RBAC applied into it, a
kubeconfig acting as that runner (not as the admin), and shop-like Deployments."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from .controlplane import ControlPlane

REPO = Path(__file__).resolve().parents[3]
RUNNER_RBAC = REPO / "k8s" / "runner" / "rbac.yaml"
SHOP_SIDECAR_CONFIG = REPO / "k8s" / "shop" / "toxiproxy"
SHIPPED_NAMESPACE = "gameday-lab"
RUNNER = "gameday-runner"
AUDIT_MARKER = "gameday-audit-marker"
POLL_S = 0.1
REQUEST_TIMEOUT_S = 10
NAMESPACE_WAIT_S = 30

T = TypeVar("T")


class WaitTimedOut(AssertionError):
    """A condition a test waited for did not come true in time."""


def wait_for(predicate: Callable[[], T], timeout_s: float, what: str) -> T:
    """Poll predicate until it returns something truthy (returned), at most timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimedOut(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_S)


def runner_rbac(namespace: str) -> list[dict[str, Any]]:
    """k8s/runner's objects as installed into `namespace` instead of gameday-lab (the
    binding's subject and any resourceNames naming the namespace follow it)."""
    text = RUNNER_RBAC.read_text().replace(SHIPPED_NAMESPACE, namespace)
    objects = [doc for doc in yaml.safe_load_all(text) if doc]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def shop_deployment(app: str, replicas: int, sidecar: bool) -> list[dict[str, Any]]:
    """A Deployment shaped like k8s/shop's (labels, app container, optional Toxiproxy
    sidecar with its ConfigMap from k8s/shop/toxiproxy/APP.json)."""
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop"}
    containers: list[dict[str, Any]] = [
        {
            "name": "app",
            "image": "gameday-shop:lab",
            "args": [app],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        }
    ]
    pod_spec: dict[str, Any] = {"terminationGracePeriodSeconds": 10, "containers": containers}
    objects: list[dict[str, Any]] = []
    if sidecar:
        config_file = SHOP_SIDECAR_CONFIG / f"{app}.json"
        config = config_file.read_text() if config_file.exists() else "[]"
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"toxiproxy-{app}", "labels": labels},
                "data": {"toxiproxy.json": config},
            }
        )
        containers.append(
            {
                "name": "toxiproxy",
                "image": "ghcr.io/shopify/toxiproxy:2.12.0",
                "args": ["-host=0.0.0.0", "-port=8474", "-config=/etc/toxiproxy/toxiproxy.json"],
                "ports": [{"name": "toxiproxy", "containerPort": 8474, "protocol": "TCP"}],
                "volumeMounts": [
                    {"name": "toxiproxy-config", "mountPath": "/etc/toxiproxy", "readOnly": True}
                ],
            }
        )
        pod_spec["volumes"] = [
            {"name": "toxiproxy-config", "configMap": {"name": f"toxiproxy-{app}"}}
        ]
    objects.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        }
    )
    return objects


@dataclass
class LabNamespace:
    name: str
    kubeconfig: Path
    plane: ControlPlane

    def configuration(self, **extra: Any) -> dict[str, Any]:
        return {"k8s_namespaces": [self.name], "k8s_kubeconfig": str(self.kubeconfig), **extra}

    def wait_for(self, predicate: Callable[[], T], timeout_s: float, what: str) -> T:
        return wait_for(predicate, timeout_s, what)

    def apply(self, objects: str | dict[str, Any] | Iterable[dict[str, Any]]) -> None:
        """kubectl apply into this namespace, as the admin."""
        if isinstance(objects, dict):
            objects = [objects]
        text = objects if isinstance(objects, str) else yaml.safe_dump_all(list(objects))
        self.plane.kubectl("apply", "-n", self.name, "-f", "-", input=text)

    def pods(self, app: str | None = None) -> list[dict[str, Any]]:
        """The pods (of app) as the API serves them, terminating ones included, by name."""
        selector = f"app.kubernetes.io/name={app}" if app else ""
        listing = self.plane.admin.core.list_namespaced_pod(
            self.name, label_selector=selector, _request_timeout=REQUEST_TIMEOUT_S
        )
        pods = self.plane.admin.as_dicts(listing.items)
        return sorted(pods, key=lambda p: p["metadata"]["name"])

    def pod_names(self, app: str | None = None) -> list[str]:
        return [p["metadata"]["name"] for p in self.pods(app)]

    def deployment(self, app: str) -> dict[str, Any]:
        found = self.plane.admin.apps.read_namespaced_deployment(
            app, self.name, _request_timeout=REQUEST_TIMEOUT_S
        )
        return self.plane.admin.as_dicts([found])[0]

    @property
    def runner_user(self) -> str:
        return f"system:serviceaccount:{self.name}:{RUNNER}"

    def runner_requests(self, since: float | None = None) -> list[dict[str, Any]]:
        """The audit events of the runner's requests (received at or after since, a
        time.time() value), oldest first. A marker request is sent and waited for first,
        so every request the runner finished before this call is among them."""
        marker = f"{AUDIT_MARKER}-{secrets.token_hex(4)}"
        with k8s_config.new_client_from_config(config_file=str(self.kubeconfig)) as client:
            k8s.CoreV1Api(client).list_namespaced_pod(
                self.name, label_selector=marker, _request_timeout=REQUEST_TIMEOUT_S
            )

        def collected() -> tuple[list[dict[str, Any]]] | None:
            mine = [
                e
                for e in self.plane.audit_events(since)
                if e["user"]["username"] == self.runner_user
            ]
            if not any(marker in e["requestURI"] for e in mine):
                return None
            return ([e for e in mine if AUDIT_MARKER not in e["requestURI"]],)

        (events,) = self.wait_for(collected, 10, "the audit log to record the marker request")
        return events

    def deploy(self, app: str, replicas: int, sidecar: bool = False) -> None:
        """A shop-like Deployment of app, waiting until it is Available with every pod
        Running and Ready."""
        self.apply(shop_deployment(app, replicas, sidecar))
        self.wait_available(app, replicas)

    def wait_available(self, app: str, replicas: int, timeout_s: float = 60) -> None:
        def available() -> bool:
            deployment = self.deployment(app)
            status = deployment.get("status", {})
            live = [p for p in self.pods(app) if not p["metadata"].get("deletionTimestamp")]
            return (
                status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
                and status.get("updatedReplicas", 0) == replicas
                and status.get("availableReplicas", 0) == replicas
                and status.get("replicas", 0) == replicas
                and len(live) == replicas
                and all(_ready(p) for p in live)
            )

        what = f"deployment {self.name}/{app} with {replicas} ready pods"
        self.wait_for(available, timeout_s, what)


@contextmanager
def open_lab_namespace(plane: ControlPlane, name: str, directory: Path) -> Iterator[LabNamespace]:
    """Create namespace `name` with the runner's RBAC and a runner kubeconfig (written in
    directory); delete the namespace on exit."""
    plane.kubectl("create", "namespace", name)
    try:
        plane.kubectl("apply", "-n", name, "-f", "-", input=yaml.safe_dump_all(runner_rbac(name)))

        def accounts() -> bool:
            found = plane.admin.core.list_namespaced_service_account(
                name, _request_timeout=REQUEST_TIMEOUT_S
            ).items
            return {RUNNER, "default"} <= {a.metadata.name for a in found}

        wait_for(accounts, NAMESPACE_WAIT_S, f"service accounts in namespace {name}")
        kubeconfig = plane.service_account_kubeconfig(
            name, RUNNER, directory / f"{name}.kubeconfig"
        )
        yield LabNamespace(name, kubeconfig, plane)
    finally:
        # The namespace controller removes what is in it; no need to wait for that.
        plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def request_query(event: dict[str, Any]) -> dict[str, list[str]]:
    """The query parameters of an audited request."""
    return parse_qs(urlsplit(event["requestURI"]).query)


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )
