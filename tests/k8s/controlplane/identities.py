"""Who talks to the API server: static tokens for the admin, the control plane's own
components and the nodes, kubeconfigs naming them, and the audit policy that records the
requests of everyone else."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

CLUSTER = "gameday-test"
ADMIN_USER = "gameday-test-admin"
NODE_GROUP = "system:nodes"


@dataclass(frozen=True)
class StaticUser:
    name: str
    groups: tuple[str, ...]
    token: str


def node_name(index: int) -> str:
    return f"gameday-node-{index + 1}"


def static_users(node_count: int) -> list[StaticUser]:
    """The admin (system:masters), the controller-manager, the scheduler and one identity
    per node (system:node:NAME, what the Node authorizer and NodeRestriction expect)."""
    users = [
        StaticUser(ADMIN_USER, ("system:masters",), secrets.token_urlsafe(24)),
        StaticUser("system:kube-controller-manager", (), secrets.token_urlsafe(24)),
        StaticUser("system:kube-scheduler", (), secrets.token_urlsafe(24)),
    ]
    users += [
        StaticUser(f"system:node:{node_name(i)}", (NODE_GROUP,), secrets.token_urlsafe(24))
        for i in range(node_count)
    ]
    return users


def write_token_file(path: Path, users: list[StaticUser]) -> Path:
    """The API server's --token-auth-file: token,user,uid,"group1,group2"."""
    lines = [f'{u.token},{u.name},{u.name},"{",".join(u.groups)}"' for u in users]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def write_kubeconfig(
    path: Path, server: str, ca_cert: Path, token: str, namespace: str | None = None
) -> Path:
    context: dict[str, str] = {"cluster": CLUSTER, "user": "user"}
    if namespace:
        context["namespace"] = namespace
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER,
                "cluster": {"server": server, "certificate-authority": str(ca_cert)},
            }
        ],
        "users": [{"name": "user", "user": {"token": token}}],
        "contexts": [{"name": CLUSTER, "context": context}],
        "current-context": CLUSTER,
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path


def write_audit_policy(path: Path, node_count: int) -> Path:
    """Metadata for every request a client makes; nothing for leases, watches, or the
    control plane's own traffic (its components, its controllers' service accounts and
    the nodes), so the log shows what a test's client did."""
    quiet_users = ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver"]
    quiet_users += [f"system:node:{node_name(i)}" for i in range(node_count)]
    policy = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "resources": [{"group": "coordination.k8s.io"}]},
            {"level": "None", "verbs": ["watch"]},
            {"level": "None", "users": quiet_users},
            {
                "level": "None",
                "userGroups": [NODE_GROUP, "system:serviceaccounts:kube-system"],
            },
            {"level": "Metadata"},
        ],
    }
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path
