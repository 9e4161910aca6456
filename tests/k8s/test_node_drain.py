"""Node drain on a real control plane, as the shipped ServiceAccount with the opt-in
node-drain ClusterRole: cordon, evictions through the Eviction API (PodDisruptionBudgets
respected), undo, blast-radius guards, `gameday validate` and `gameday run --dry-run`."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.faults.kubernetes_node import drain_node, uncordon_nodes
from chaos.k8s.errors import KubernetesForbidden
from chaos.safety.k8s_scope import BlastRadiusRefused
from chaos.safety.ledger import Ledger
from chaos.safety.rollback import rollback_outstanding

ROOT = Path(__file__).resolve().parents[2]
NODE_DRAIN = ROOT / "k8s" / "runner" / "node-drain.yaml"
CATALOG = "app.kubernetes.io/name=catalog"
MASTER_LABEL = "node-role.kubernetes.io/master"


@pytest.fixture
def drain_rights(lab_namespace: Any, control_plane: Any) -> Iterator[str]:
    """k8s/runner/node-drain.yaml bound to this lab's runner (names made unique)."""
    suffix = secrets.token_hex(3)
    text = NODE_DRAIN.read_text().replace(
        "namespace: gameday-lab", f"namespace: {lab_namespace.name}"
    )
    text = text.replace("name: gameday-node-drain", f"name: gameday-node-drain-{suffix}")
    objects = [doc for doc in yaml.safe_load_all(text) if doc]
    manifest = yaml.safe_dump_all(objects)
    control_plane.kubectl("apply", "-f", "-", input=manifest)
    try:
        yield suffix
    finally:
        control_plane.kubectl("delete", "-f", "-", "--wait=false", input=manifest, check=False)


@pytest.fixture
def uncordon_afterwards(control_plane: Any) -> Iterator[None]:
    """Every node schedulable again after the test, whatever it left behind."""
    try:
        yield
    finally:
        for node in control_plane.nodes:
            control_plane.kubectl("uncordon", node, check=False)


def _node_of(lab: Any) -> dict[str, str]:
    return {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in lab.pods("catalog")}


def _busiest_node(lab: Any) -> tuple[str, list[str]]:
    placed = _node_of(lab)
    node = max(set(placed.values()), key=lambda n: sum(v == n for v in placed.values()))
    return node, sorted(pod for pod, on in placed.items() if on == node)


def _unschedulable(control_plane: Any, node: str) -> bool:
    found = control_plane.admin.core.read_node(node, _request_timeout=10)
    return bool(found.spec.unschedulable)


def test_drain_cordons_evicts_and_the_undo_uncordons(
    lab_namespace: Any,
    control_plane: Any,
    drain_rights: str,
    uncordon_afterwards: None,
    tmp_path: Path,
) -> None:
    lab = lab_namespace
    lab.deploy("catalog", 4)
    node, on_node = _busiest_node(lab)
    ledger = tmp_path / "ledger.jsonl"
    configuration = lab.configuration(gameday_ledger=str(ledger))
    since = time.time() - 1

    result = drain_node(node=node, configuration=configuration)

    assert result["cordoned"] == [node] and result["refused"] == {}
    assert result["evicted"] == [f"{lab.name}/{pod}" for pod in on_node]
    assert _unschedulable(control_plane, node)
    # The ReplicaSet replaces the evicted pods, and the scheduler keeps them off the node.
    lab.wait_available("catalog", 4)

    # An evicted pod is listed (terminating) until its node confirms it gone.
    def replaced() -> dict[str, str] | None:
        placed = _node_of(lab)
        return None if set(on_node) & set(placed) else placed

    placed = lab.wait_for(replaced, 60, "the evicted pods gone")
    assert node not in placed.values()
    user = f"system:serviceaccount:{lab.name}:gameday-runner"
    evictions = {
        e["objectRef"]["name"]
        for e in control_plane.audit_events(since)
        if e["user"]["username"] == user and e.get("objectRef", {}).get("subresource") == "eviction"
    }
    assert evictions == set(on_node)
    (entry,) = Ledger(ledger).outstanding()
    assert entry.kind == "k8s.node_drain" and entry.status == "applied"

    report = rollback_outstanding([ledger])

    assert report.ok and [e.id for e in report.undone] == [entry.id]
    assert not _unschedulable(control_plane, node)
    assert Ledger(ledger).outstanding() == []


def test_a_disruption_budget_refuses_the_eviction_and_the_refusal_is_reported(
    lab_namespace: Any,
    control_plane: Any,
    drain_rights: str,
    uncordon_afterwards: None,
    tmp_path: Path,
) -> None:
    lab = lab_namespace
    lab.deploy("catalog", 2)
    lab.apply(
        {
            "apiVersion": "policy/v1beta1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "catalog"},
            "spec": {
                "minAvailable": 2,
                "selector": {"matchLabels": {"app.kubernetes.io/name": "catalog"}},
            },
        }
    )

    def budget_counted() -> bool:
        out = control_plane.kubectl("get", "pdb", "catalog", "-n", lab.name, "-o", "yaml").stdout
        status = yaml.safe_load(out).get("status", {})
        return status.get("currentHealthy") == 2 and "disruptionsAllowed" in status

    lab.wait_for(budget_counted, 30, "the disruption controller to count the budget")
    node, on_node = _busiest_node(lab)
    configuration = lab.configuration(gameday_ledger=str(tmp_path / "ledger.jsonl"))

    started = time.monotonic()
    result = drain_node(node=node, eviction_timeout_s=2, configuration=configuration)

    assert time.monotonic() - started >= 2
    assert result["evicted"] == []
    assert sorted(result["refused"]) == [f"{lab.name}/{pod}" for pod in on_node]
    assert all("HTTP 429" in reason for reason in result["refused"].values())
    assert sorted(lab.pod_names("catalog")) == sorted(_node_of(lab))
    assert set(on_node) <= set(lab.pod_names("catalog"))
    assert _unschedulable(control_plane, node)
    uncordon_nodes([node], configuration=configuration)
    assert not _unschedulable(control_plane, node)
    assert Ledger(tmp_path / "ledger.jsonl").outstanding() == []


def test_control_plane_nodes_are_refused_unless_allowed(
    lab_namespace: Any, control_plane: Any, drain_rights: str, uncordon_afterwards: None
) -> None:
    lab = lab_namespace
    node = control_plane.nodes[0]
    control_plane.kubectl("label", "node", node, f"{MASTER_LABEL}=")
    try:
        since = time.time() - 1
        with pytest.raises(BlastRadiusRefused, match="control plane"):
            drain_node(node=node, configuration=lab.configuration())
        with pytest.raises(BlastRadiusRefused, match="control plane"):
            drain_node(node_selector=MASTER_LABEL, configuration=lab.configuration())
        dry = drain_node(
            node=node, allow_control_plane=True, dry_run=True, configuration=lab.configuration()
        )
        assert dry["would_cordon"] == [node]
    finally:
        control_plane.kubectl("label", "node", node, f"{MASTER_LABEL}-")
    user = f"system:serviceaccount:{lab.name}:gameday-runner"
    verbs = {e["verb"] for e in control_plane.audit_events(since) if e["user"]["username"] == user}
    assert verbs <= {"get", "list"}
    assert not _unschedulable(control_plane, node)


def test_the_node_must_be_named_and_a_dry_run_only_reads(
    lab_namespace: Any, control_plane: Any, drain_rights: str, tmp_path: Path
) -> None:
    lab = lab_namespace
    lab.deploy("catalog", 2)
    configuration = lab.configuration(gameday_ledger=str(tmp_path / "ledger.jsonl"))
    with pytest.raises(ValueError, match="exactly one of node, node_selector"):
        drain_node(configuration=configuration)
    with pytest.raises(BlastRadiusRefused, match="only excludes"):
        drain_node(node_selector="kubernetes.io/hostname!=x", configuration=configuration)
    node, on_node = _busiest_node(lab)
    since = time.time() - 1

    plan = drain_node(node=node, dry_run=True, configuration=configuration)

    assert plan["would_cordon"] == [node]
    assert plan["would_evict"] == [f"{lab.name}/{pod}" for pod in on_node]
    assert all(not pod.startswith(f"{lab.name}/") for pod in plan["left_running"])
    user = f"system:serviceaccount:{lab.name}:gameday-runner"
    verbs = {e["verb"] for e in control_plane.audit_events(since) if e["user"]["username"] == user}
    assert verbs <= {"get", "list"}
    assert not _unschedulable(control_plane, node)
    assert not (tmp_path / "ledger.jsonl").exists()


def test_without_the_opt_in_cluster_role_the_refusal_names_it(
    lab_namespace: Any, control_plane: Any
) -> None:
    with pytest.raises(KubernetesForbidden) as refused:
        drain_node(node=control_plane.nodes[0], configuration=lab_namespace.configuration())
    message = str(refused.value)
    assert "get nodes" in message and '"resources": ["nodes"]' in message
    assert "ClusterRole gameday-node-drain (k8s/runner/node-drain.yaml, opt-in)" in message


def _experiment(tmp_path: Path, configuration: dict[str, Any], **arguments: Any) -> Path:
    experiment = {
        "title": "drain a node",
        "description": "cordon a node and evict the lab's pods from it",
        "configuration": configuration,
        "target": {"kind": "k8s"},
        "load": False,
        "steady-state-hypothesis": {"title": "nothing", "probes": []},
        "method": [
            {
                "type": "action",
                "name": "drain",
                "provider": {
                    "type": "python",
                    "module": "chaos.faults.kubernetes_node",
                    "func": "drain_node",
                    "arguments": arguments,
                },
            }
        ],
        "rollbacks": [],
    }
    path = tmp_path / "drain.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    return path


def test_validate_refuses_a_node_selector_that_names_no_node(tmp_path: Path) -> None:
    path = _experiment(
        tmp_path, {"k8s_namespaces": ["gameday-lab"]}, node_selector="kubernetes.io/hostname!=a"
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert "method[0].provider.arguments.node_selector" in output
    assert "only excludes" in output and "Traceback" not in output


def test_gameday_dry_run_lists_the_node_and_the_pods_it_would_evict(
    lab_namespace: Any, control_plane: Any, drain_rights: str, tmp_path: Path
) -> None:
    lab = lab_namespace
    lab.deploy("catalog", 2)
    placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in lab.pods("catalog")}
    node = sorted(placed.values())[0]
    path = _experiment(tmp_path, lab.configuration(), node=node)
    since = time.time() - 1

    result = CliRunner().invoke(
        app, ["run", str(path), "--dry-run", "--runs-dir", str(tmp_path / "runs")]
    )

    output = " ".join(result.output.split())
    assert result.exit_code == 0, output
    assert f"cordon node/{node}" in output
    evicted = sorted(pod for pod, on in placed.items() if on == node)
    for pod in evicted:
        assert f"evict pod {lab.name}/{pod}" in output
    assert f"replicas: node/{node} cordon; evict {len(evicted)} pod(s)" in output
    user = f"system:serviceaccount:{lab.name}:gameday-runner"
    verbs = {e["verb"] for e in control_plane.audit_events(since) if e["user"]["username"] == user}
    assert verbs <= {"get", "list"}
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_without_the_cluster_role_the_plan_says_the_drain_would_be_refused(
    lab_namespace: Any, control_plane: Any, tmp_path: Path
) -> None:
    path = _experiment(tmp_path, lab_namespace.configuration(), node=control_plane.nodes[0])
    result = CliRunner().invoke(
        app, ["run", str(path), "--dry-run", "--runs-dir", str(tmp_path / "runs")]
    )
    output = " ".join(result.output.split())
    assert result.exit_code == 0, output
    assert "would fail: KubernetesForbidden" in output
    assert "ClusterRole gameday-node-drain (k8s/runner/node-drain.yaml, opt-in)" in output
