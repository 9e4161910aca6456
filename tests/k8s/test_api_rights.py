"""The rights the code declares against a real API server, as the shipped ServiceAccount:
every call needs exactly the right it names, and a refusal says what to grant."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.engine.k8s_preflight import check_cluster
from chaos.engine.target import CouldNotRun
from chaos.faults import kubernetes_network as kn
from chaos.faults.errors import FaultNotApplied
from chaos.k8s import connect, permissions
from chaos.k8s.errors import KubernetesForbidden
from chaos.k8s.portforward import PodPortForward
from chaos.safety.ledger import Ledger
from chaos.safety.rollback import rollback_outstanding

RUNNER = "gameday-runner"
CATALOG = "app.kubernetes.io/name=catalog"


def _runner_events(control_plane: Any, namespace: str, since: float) -> list[dict]:
    """What the runner asked, less the tests' own `kubectl auth can-i` reviews."""
    user = f"system:serviceaccount:{namespace}:{RUNNER}"
    return [
        event
        for event in control_plane.audit_events(since)
        if event["user"]["username"] == user
        and "objectRef" in event
        and event["objectRef"].get("apiGroup") != "authorization.k8s.io"
    ]


def _rights(events: list[dict]) -> set[tuple[str, str, str]]:
    rights = set()
    for event in events:
        ref = event["objectRef"]
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        rights.add((ref.get("apiGroup", ""), resource, event["verb"]))
    return rights


def _edit_role(lab: Any, control_plane: Any, edit: Any) -> None:
    """Replace the runner Role in the lab namespace with an edited copy (as the admin)."""
    out = control_plane.kubectl("get", "role", RUNNER, "-n", lab.name, "-o", "yaml").stdout
    role = yaml.safe_load(out)
    role["rules"] = edit(role["rules"])
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        role["metadata"].pop(key, None)
    control_plane.kubectl("replace", "-n", lab.name, "-f", "-", input=yaml.safe_dump(role))


def _wait_refused(lab: Any, control_plane: Any, verb: str, resource: str) -> None:
    """Until the API server's authorizer refuses the runner `verb` on `resource`."""

    def refused() -> bool:
        answer = control_plane.kubectl(
            "auth", "can-i", verb, resource, "-n", lab.name, kubeconfig=lab.kubeconfig, check=False
        )
        return answer.stdout.strip() == "no"

    lab.wait_for(refused, 10, f"the runner to lose {verb} {resource}")


def _without(group: str, resource: str, verb: str) -> Any:
    def edit(rules: list[dict]) -> list[dict]:
        kept = []
        for rule in rules:
            if group in rule["apiGroups"] and resource in rule["resources"]:
                verbs = [v for v in rule["verbs"] if v != verb]
                if not verbs:
                    continue
                rule = {**rule, "verbs": verbs}
            kept.append(rule)
        return kept

    return edit


def test_every_call_needs_exactly_the_right_it_declares(lab_namespace: Any, control_plane: Any):
    lab = lab_namespace
    lab.deploy("catalog", 1, sidecar=True)
    (pod,) = lab.pod_names("catalog")
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "gameday-partition-rights"},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "catalog"}}},
    }
    since = time.time() - 1
    with connect(lab.configuration()) as api:
        api.version()
        api.read_namespace(lab.name)
        api.list_pods(lab.name, CATALOG)
        api.list_deployments(lab.name)
        api.read_deployment(lab.name, "catalog")
        api.read_scale(lab.name, "catalog")
        api.patch_scale(lab.name, "catalog", 1)
        api.create_network_policy(lab.name, policy)
        api.list_network_policies(lab.name)
        assert api.delete_network_policy(lab.name, "gameday-partition-rights")
        with PodPortForward(api, lab.name, pod, 8474) as forward:
            assert httpx.get(f"{forward.url}/version", timeout=10).status_code == 200
        api.delete_pod(lab.name, pod, 0)
    # The audit log is written before each response (blocking mode).
    events = _runner_events(control_plane, lab.name, since)
    # The test control plane is v1.20: it checks every declared right but those of newer
    # servers (create on a websocket port-forward, from v1.35).
    assert _rights(events) == permissions.checked_by("role", (1, 20))
    assert permissions.required("role") - _rights(events) == {("", "pods/portforward", "create")}
    assert all(e["responseStatus"]["code"] < 400 for e in events if e["stage"] != "ResponseStarted")


def test_a_preflight_refused_by_rbac_names_the_rule_not_reachability(
    lab_namespace: Any, control_plane: Any
) -> None:
    lab = lab_namespace
    _edit_role(lab, control_plane, _without("", "namespaces", "get"))
    _wait_refused(lab, control_plane, "get", f"namespaces/{lab.name}")
    with pytest.raises(CouldNotRun) as refused:
        check_cluster(lab.configuration())
    message = str(refused.value)
    assert "not reachable" not in message
    assert f"get namespaces in namespace {lab.name}" in message
    assert f'"resources": ["namespaces"], "verbs": ["get"], "resourceNames": ["{lab.name}"]' in (
        message
    )
    assert "Role gameday-runner (k8s/runner/rbac.yaml)" in message
    assert "403" in message


def test_gameday_run_exits_4_with_the_refusal(
    lab_namespace: Any, control_plane: Any, tmp_path: Path
) -> None:
    lab = lab_namespace
    _edit_role(lab, control_plane, _without("", "namespaces", "get"))
    _wait_refused(lab, control_plane, "get", f"namespaces/{lab.name}")
    experiment = {
        "title": "refused preflight",
        "description": "the runner may not read its namespace",
        "configuration": lab.configuration(),
        "target": {"kind": "k8s"},
        "load": False,
        "steady-state-hypothesis": {"title": "nothing", "probes": []},
        "method": [
            {
                "type": "action",
                "name": "kill-catalog",
                "provider": {
                    "type": "python",
                    "module": "chaos.faults.kubernetes",
                    "func": "kill_pods",
                    "arguments": {"label_selector": CATALOG, "namespace": lab.name},
                },
            }
        ],
    }
    path = tmp_path / "refused.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    since = time.time() - 1
    outcome = CliRunner().invoke(app, ["run", str(path), "--runs-dir", str(tmp_path / "runs")])
    output = " ".join(outcome.output.split())
    assert outcome.exit_code == 4, output
    assert "refused" in output and "get namespaces" in output and "not reachable" not in output
    assert "Traceback" not in output
    mutating = [
        e
        for e in _runner_events(control_plane, lab.name, since)
        if e["verb"] not in ("get", "list", "watch")
    ]
    assert mutating == []


def test_credentials_the_server_rejects_are_told_apart(lab_namespace: Any, tmp_path: Path):
    lab = lab_namespace
    kubeconfig = yaml.safe_load(lab.kubeconfig.read_text())
    for user in kubeconfig["users"]:
        user["user"]["token"] = "not-a-token"
    bad = tmp_path / "bad.kubeconfig"
    bad.write_text(yaml.safe_dump(kubeconfig))
    with pytest.raises(CouldNotRun) as refused:
        check_cluster(lab.configuration(k8s_kubeconfig=str(bad)))
    message = str(refused.value)
    assert "401" in message and "did not accept the credentials" in message
    assert "not reachable" not in message


def test_a_sidecar_toxic_whose_port_forward_is_refused_is_settled_as_not_applied(
    lab_namespace: Any, control_plane: Any, tmp_path: Path
) -> None:
    lab = lab_namespace
    lab.deploy("orders", 1, sidecar=True)
    _edit_role(lab, control_plane, _without("", "pods/portforward", "get"))
    _wait_refused(lab, control_plane, "get", "pods/portforward")
    ledger_path = tmp_path / "ledger.jsonl"
    configuration = lab.configuration(gameday_ledger=str(ledger_path))
    with pytest.raises(FaultNotApplied) as refused:
        kn.add_sidecar_latency(
            "orders->payments", 100, namespace=lab.name, configuration=configuration
        )
    error = refused.value
    message = str(error)
    assert "was not applied (nothing was changed)" in message
    assert "undone" not in message
    assert "get pods/portforward" in message and '"resources": ["pods/portforward"]' in message
    assert isinstance(error.__cause__, KubernetesForbidden)
    statuses = {entry.status for entry in Ledger(ledger_path).entries()}
    assert statuses == {"not_applied"}
    report = rollback_outstanding([ledger_path])
    assert report.ok and report.undone == []
    (pod,) = lab.pod_names("orders")
    toxics = httpx.get(f"{control_plane.sidecar_url(lab.name, pod)}/proxies", timeout=10).json()
    assert all(proxy["toxics"] == [] for proxy in toxics.values())


def test_a_fault_whose_undo_fails_too_says_so_and_stays_outstanding(
    lab_namespace: Any, control_plane: Any, tmp_path: Path
) -> None:
    lab = lab_namespace
    lab.deploy("orders", 2, sidecar=True)
    reachable, unreachable = lab.pod_names("orders")

    def only_the_first_pod(rules: list[dict]) -> list[dict]:
        # Port-forward to one pod only: the toxic lands there, then the second is refused,
        # and the undo (which must visit both) is refused too.
        rules = _without("", "pods/portforward", "get")(rules)
        return [
            *rules,
            {
                "apiGroups": [""],
                "resources": ["pods/portforward"],
                "resourceNames": [reachable],
                "verbs": ["get"],
            },
        ]

    _edit_role(lab, control_plane, only_the_first_pod)
    _wait_refused(lab, control_plane, "get", f"pods/{unreachable}/portforward")
    ledger_path = tmp_path / "ledger.jsonl"
    configuration = lab.configuration(gameday_ledger=str(ledger_path))
    with pytest.raises(FaultNotApplied) as failed:
        kn.add_sidecar_latency(
            "orders->payments", 100, namespace=lab.name, configuration=configuration
        )
    message = str(failed.value)
    assert "its undo failed too" in message and "was undone" not in message
    assert "gameday rollback" in message
    (entry,) = Ledger(ledger_path).outstanding()
    assert entry.status == "undo_failed" and entry.id in message
    # The undo took the toxic off the pod it could reach before the other refused it.
    toxics = httpx.get(f"{control_plane.sidecar_url(lab.name, reachable)}/proxies", timeout=10)
    assert toxics.json()["orders->payments"]["toxics"] == []
