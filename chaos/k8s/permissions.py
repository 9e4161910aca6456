"""The RBAC rights behind each Kubernetes API call the toolkit makes.

Every call of `chaos.k8s.client.KubeApi` (and the port-forward) names the `Permission` it
needs, so a refusal (HTTP 401/403) can say which verb on which resource was refused and
which rule to add, and the shipped RBAC (k8s/runner/) can be checked against what the
code calls instead of against a frozen copy of itself.

Two grants ship: the namespaced Role `gameday-runner` (k8s/runner/rbac.yaml, in the
default kustomization) for every fault and probe, and the opt-in ClusterRole
`gameday-node-drain` (k8s/runner/node-drain.yaml) for the node drain, which acts on
cluster-scoped nodes and on pods across namespaces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from chaos.k8s.errors import KubernetesForbidden

Grant = Literal["role", "cluster-role"]

ROLE = "Role gameday-runner (k8s/runner/rbac.yaml)"
CLUSTER_ROLE = "ClusterRole gameday-node-drain (k8s/runner/node-drain.yaml, opt-in)"


@dataclass(frozen=True)
class Permission:
    """One RBAC right: `verb` on `resource` (with its subresource, e.g. `pods/eviction`)
    in API group `group` ("" is the core group). `grant` says which shipped role holds it;
    `own_namespace` marks a right granted only on the runner's own namespace object
    (`resourceNames: [NAMESPACE]`)."""

    group: str
    resource: str
    verb: str
    grant: Grant = "role"
    own_namespace: bool = False
    # The first server version that checks this right (None: every version we support).
    checked_from: tuple[int, int] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.resource, self.verb)

    def rule(self, namespace: str | None = None) -> dict[str, Any]:
        """The RBAC rule that grants this right."""
        rule: dict[str, Any] = {
            "apiGroups": [self.group],
            "resources": [self.resource],
            "verbs": [self.verb],
        }
        if self.own_namespace and namespace:
            rule["resourceNames"] = [namespace]
        return rule

    def describe(self) -> str:
        group = f" in API group {self.group!r}" if self.group else ""
        return f"{self.verb} {self.resource}{group}"

    def where(self) -> str:
        return ROLE if self.grant == "role" else CLUSTER_ROLE


REQUIRED: list[Permission] = []


def _needs(
    group: str,
    resource: str,
    verb: str,
    grant: Grant = "role",
    own_namespace: bool = False,
    checked_from: tuple[int, int] | None = None,
) -> Permission:
    permission = Permission(group, resource, verb, grant, own_namespace, checked_from)
    REQUIRED.append(permission)
    return permission


# The runner's Role: faults and probes inside the allow-listed namespace.
GET_NAMESPACE = _needs("", "namespaces", "get", own_namespace=True)
LIST_PODS = _needs("", "pods", "list")
DELETE_POD = _needs("", "pods", "delete")
# The kubernetes client port-forwards over a websocket, whose upgrade request is a GET.
PORT_FORWARD = _needs("", "pods/portforward", "get")
# From v1.35 the API server also checks `create` on a websocket upgrade
# (AuthorizePodWebsocketUpgradeCreatePermission, KEP-4006), as it always did for SPDY.
PORT_FORWARD_UPGRADE = _needs("", "pods/portforward", "create", checked_from=(1, 35))
GET_DEPLOYMENT = _needs("apps", "deployments", "get")
LIST_DEPLOYMENTS = _needs("apps", "deployments", "list")
GET_SCALE = _needs("apps", "deployments/scale", "get")
PATCH_SCALE = _needs("apps", "deployments/scale", "patch")
LIST_NETWORK_POLICIES = _needs("networking.k8s.io", "networkpolicies", "list")
CREATE_NETWORK_POLICY = _needs("networking.k8s.io", "networkpolicies", "create")
DELETE_NETWORK_POLICY = _needs("networking.k8s.io", "networkpolicies", "delete")

# The opt-in node-drain ClusterRole.
GET_NODE = _needs("", "nodes", "get", grant="cluster-role")
LIST_NODES = _needs("", "nodes", "list", grant="cluster-role")
PATCH_NODE = _needs("", "nodes", "patch", grant="cluster-role")
LIST_PODS_ON_NODE = _needs("", "pods", "list", grant="cluster-role")
EVICT_POD = _needs("", "pods/eviction", "create", grant="cluster-role")


def required(grant: Grant) -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every right the code needs from one shipped grant."""
    return {permission.key for permission in REQUIRED if permission.grant == grant}


def checked_by(grant: Grant, server: tuple[int, int]) -> set[tuple[str, str, str]]:
    """The rights of `required(grant)` that a server of version `server` checks."""
    return {
        permission.key
        for permission in REQUIRED
        if permission.grant == grant
        and (permission.checked_from is None or server >= permission.checked_from)
    }


def refusal(
    status: int,
    server_message: str,
    permission: Permission | None,
    namespace: str | None,
    what: str,
    host: str,
) -> KubernetesForbidden:
    """The error for a 401/403: what was refused, where, and the rule that would allow it."""
    where = f" in namespace {namespace}" if namespace else ""
    if status == 401:
        return KubernetesForbidden(
            f"{what}: the API server at {host} did not accept the credentials (HTTP 401 "
            f"Unauthorized: {server_message}); the kubeconfig's token or client certificate "
            "is wrong or expired, so no RBAC rule can help until it is renewed",
            status,
        )
    if permission is None:
        return KubernetesForbidden(
            f"{what}: the API server at {host} refused it (HTTP 403 Forbidden: {server_message})",
            status,
        )
    rule = json.dumps(permission.rule(namespace))
    return KubernetesForbidden(
        f"{what}: the API server at {host} refused to {permission.describe()}{where} "
        f"(HTTP 403 Forbidden: {server_message}); grant it with the rule {rule} in the "
        f"{permission.where()} bound to this identity, then apply it",
        status,
    )
