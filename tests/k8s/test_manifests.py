"""k8s/: renders offline with kubectl's kustomize and validates against the real schemas."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from chaos.k8s import permissions
from chaos.targets.lab import IMAGE, NAMESPACE
from chaos.targets.lab_pod import EDGE_PORTS
from chaos.targets.shop.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
# The Kubernetes version of the kind node image in k8s/kind.yaml.
SCHEMA_VERSION = "1.33.0"
TOXIPROXY_IMAGE = "ghcr.io/shopify/toxiproxy:2.12.0"
SHOP = set(load_topology().services)


def render(folder: str) -> list[dict[str, Any]]:
    """The kustomization in `folder` (of the checkout) as kubectl's kustomize renders it."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render k8s/"
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render("k8s")


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def test_every_rendered_object_validates_strictly(rendered: list[dict]) -> None:
    assert len(rendered) >= 20
    for doc in rendered:
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)


def test_strict_validation_rejects_a_misspelt_field(rendered: list[dict]) -> None:
    deployment = copy.deepcopy(by_kind(rendered, "Deployment")["payments"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSION, strict=True)


def test_the_schema_version_matches_the_kind_node_image() -> None:
    kind = yaml.safe_load((ROOT / "k8s" / "kind.yaml").read_text())
    images = {node["image"] for node in kind["nodes"]}
    assert images == {f"kindest/node:v{SCHEMA_VERSION.rsplit('.', 1)[0]}.1"}


def test_kind_has_one_control_plane_and_two_workers() -> None:
    kind = yaml.safe_load((ROOT / "k8s" / "kind.yaml").read_text())
    assert (kind["kind"], kind["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    assert [node["role"] for node in kind["nodes"]] == ["control-plane", "worker", "worker"]


def test_everything_lives_in_the_lab_namespace(rendered: list[dict]) -> None:
    assert list(by_kind(rendered, "Namespace")) == [NAMESPACE]
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]["name"]


def _containers(deployment: dict) -> dict[str, dict]:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


def test_each_shop_service_has_probes_requests_and_a_toxiproxy_sidecar(
    rendered: list[dict],
) -> None:
    deployments = by_kind(rendered, "Deployment")
    configmaps = by_kind(rendered, "ConfigMap")
    assert set(deployments) >= SHOP
    for name in SHOP:
        deployment = deployments[name]
        assert deployment["spec"]["replicas"] >= 1
        containers = _containers(deployment)
        app, sidecar = containers["app"], containers["toxiproxy"]
        assert app["image"] == IMAGE
        assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert sidecar["image"] == TOXIPROXY_IMAGE
        assert sidecar["readinessProbe"]["httpGet"]["path"] == "/version"
        for container in containers.values():
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["toxiproxy-config"]["configMap"]["name"] in configmaps


def test_sidecar_proxies_are_exactly_the_topology_edges_on_the_pod_entry_ports(
    rendered: list[dict],
) -> None:
    deployments = by_kind(rendered, "Deployment")
    configmaps = by_kind(rendered, "ConfigMap")
    services = by_kind(rendered, "Service")
    edges: set[str] = set()
    for name in SHOP:
        spec = deployments[name]["spec"]["template"]["spec"]
        assert _containers(deployments[name])["app"]["args"] == [name]
        volumes = {v["name"]: v for v in spec["volumes"]}
        config = configmaps[volumes["toxiproxy-config"]["configMap"]["name"]]
        for proxy in json.loads(config["data"]["toxiproxy.json"]):
            caller, callee = proxy["name"].split("->")
            edges.add(proxy["name"])
            if caller == "client":
                assert name == "gateway" and proxy["upstream"] == "127.0.0.1:8080"
                continue
            assert caller == name
            # chaos.targets.lab_pod points the app's edge to callee at this listener.
            assert proxy["listen"] == f"127.0.0.1:{EDGE_PORTS[callee]}"
            host, port = proxy["upstream"].rsplit(":", 1)
            assert host == f"{callee}.{NAMESPACE}.svc.cluster.local"
            assert int(port) == services[callee]["spec"]["ports"][0]["port"]
    assert edges == set(load_topology().edge_names())


def test_services_select_pods_and_target_named_ports(rendered: list[dict]) -> None:
    deployments = by_kind(rendered, "Deployment")
    for name, service in by_kind(rendered, "Service").items():
        selector = service["spec"]["selector"]
        owners = [
            d
            for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(owners) == 1, name
        ports = {
            port["name"]
            for container in owners[0]["spec"]["template"]["spec"]["containers"]
            for port in container.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (name, port)
    # The gateway Service goes through the sidecar's client->gateway listener.
    assert by_kind(rendered, "Service")["gateway"]["spec"]["ports"][0]["targetPort"] == "edge-in"


def test_stateful_services_keep_their_data_across_pod_kills(rendered: list[dict]) -> None:
    deployments = by_kind(rendered, "Deployment")
    claims = by_kind(rendered, "PersistentVolumeClaim")
    for name in ("orders", "inventory", "payments", "notifications"):
        spec = deployments[name]["spec"]
        assert spec["strategy"]["type"] == "Recreate"
        volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] in claims


def test_locust_master_and_workers_run_the_bundled_locustfile(rendered: list[dict]) -> None:
    deployments = by_kind(rendered, "Deployment")
    master = _containers(deployments["locust-master"])["locust"]
    worker = _containers(deployments["locust-worker"])["locust"]
    assert "--master" in master["args"] and "--worker" in worker["args"]
    assert deployments["locust-worker"]["spec"]["replicas"] >= 2
    assert f"--master-host=locust-master.{NAMESPACE}.svc.cluster.local" in worker["args"]
    for container in (master, worker):
        locustfile = next(a for a in container["args"] if a.startswith("--locustfile="))
        # /app is the repository root inside the image (targets/Dockerfile WORKDIR).
        assert (ROOT / locustfile.split("=", 1)[1].removeprefix("/app/")).is_file()
    assert f"--host=http://gateway.{NAMESPACE}.svc.cluster.local:8080" in master["args"]


def _granted(rules: list[dict]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_runner_role_grants_exactly_the_rights_the_code_calls_for(rendered: list[dict]) -> None:
    kinds = {doc["kind"] for doc in rendered}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    role = by_kind(rendered, "Role")["gameday-runner"]
    assert _granted(role["rules"]) == permissions.required("role")
    for permission in permissions.REQUIRED:
        if permission.grant != "role":
            continue
        (rule,) = [r for r in role["rules"] if permission.key in _granted([r])]
        # The namespace right is for the runner's own namespace object only.
        expected = [NAMESPACE] if permission.own_namespace else None
        assert rule.get("resourceNames") == expected, permission
    binding = by_kind(rendered, "RoleBinding")["gameday-runner"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "gameday-runner",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "gameday-runner", "namespace": NAMESPACE}
    ]


def test_the_opt_in_node_drain_cluster_role_grants_what_the_drain_calls_for() -> None:
    path = ROOT / "k8s" / "runner" / "node-drain.yaml"
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for doc in docs:
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)
    role = by_kind(docs, "ClusterRole")["gameday-node-drain"]
    assert _granted(role["rules"]) == permissions.required("cluster-role")
    binding = by_kind(docs, "ClusterRoleBinding")["gameday-node-drain"]
    assert binding["roleRef"]["name"] == "gameday-node-drain"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "gameday-runner", "namespace": NAMESPACE}
    ]
    # Opt-in: not rendered by the default kustomization.
    assert "node-drain.yaml" not in (ROOT / "k8s" / "runner" / "kustomization.yaml").read_text()


# Pod Security Standards, "restricted" profile (Kubernetes 1.25+ policy), the parts a
# Deployment's pod template can break.
ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(pod: dict) -> list[str]:
    """What keeps a pod spec from passing Pod Security "restricted"."""
    problems: list[str] = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(f"pod {key}")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume['name']}: {sorted(kinds - ALLOWED_VOLUMES)}")
    pod_context = pod.get("securityContext", {})
    if pod_context.get("sysctls"):
        problems.append("pod sysctls")
    containers = pod.get("containers", []) + pod.get("initContainers", [])
    for container in containers:
        name = container["name"]
        context = container.get("securityContext", {})
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{name}: capabilities.drop lacks ALL")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            problems.append(f"{name}: runAsUser 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp.get('type')}")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            problems.append(f"{name}: hostPort")
    return problems


def _pod_specs(docs: list[dict]) -> dict[str, dict]:
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc["spec"]["template"]["spec"]
        for doc in docs
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")
    }


def test_every_workload_passes_pod_security_restricted(rendered: list[dict]) -> None:
    pods = _pod_specs(rendered)
    assert len(pods) == len(SHOP) + 2
    assert {name: restricted_violations(spec) for name, spec in pods.items()} == {
        name: [] for name in pods
    }


def test_the_restricted_check_catches_what_the_profile_forbids(rendered: list[dict]) -> None:
    spec = copy.deepcopy(_pod_specs(rendered)["Deployment/payments"])
    sidecar = next(c for c in spec["containers"] if c["name"] == "toxiproxy")
    del sidecar["securityContext"]["capabilities"]
    del spec["securityContext"]["seccompProfile"]
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert restricted_violations(spec) == [
        "volume host: ['hostPath']",
        "app: seccompProfile is None",
        "toxiproxy: capabilities.drop lacks ALL",
        "toxiproxy: seccompProfile is None",
    ]


def test_the_locust_master_starts_the_test_without_a_person(rendered: list[dict]) -> None:
    master = _containers(by_kind(rendered, "Deployment")["locust-master"])["locust"]
    args = master["args"]
    assert "--autostart" in args and "--expect-workers=2" in args
    users = next(a for a in args if a.startswith("--users="))
    assert int(users.split("=", 1)[1]) >= 1
    # The installed Locust accepts exactly these arguments (its own parser, in a
    # subprocess: importing locust monkey-patches this process with gevent).
    locustfile = next(a for a in args if a.startswith("--locustfile=")).split("=", 1)[1]
    local_args = [
        f"--locustfile={ROOT / locustfile.removeprefix('/app/')}",
        *(a for a in args if not a.startswith("--locustfile=")),
    ]
    check = (
        "import sys; from locust.argument_parser import parse_options; "
        "o = parse_options(sys.argv[1:]); "
        "print(o.autostart, o.headless, o.expect_workers, o.num_users, o.spawn_rate)"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", check, *local_args],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        .stdout.splitlines()[-1]
        .split()
    )
    assert out == ["True", "False", "2", users.split("=", 1)[1], "5.0"]


def test_the_dockerfile_builds_the_image_the_manifests_run(rendered: list[dict]) -> None:
    dockerfile = (ROOT / "targets" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.M)
    assert re.search(r"^WORKDIR /app$", dockerfile, re.M)
    assert re.search(r"^USER 10001$", dockerfile, re.M)
    for deployment in by_kind(rendered, "Deployment").values():
        for container in _containers(deployment).values():
            if container["image"] == IMAGE:
                assert container["securityContext"]["runAsUser"] == 10001
