"""`gameday run --target k8s`: the same experiment file, mapped to Kubernetes providers and
run by the engine end to end against the real control plane, as the shipped
gameday-runner ServiceAccount (port-forwards through the API server to one
Toxiproxy-compatible sidecar per pod, run by the node agent)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.engine import RunOptions, run_experiment
from chaos.experiment import ExperimentError
from chaos.proxy import ToxiproxyClient
from chaos.safety.ledger import Ledger
from tests.k8s.controlplane.identities import CLUSTER
from tests.k8s.controlplane.lab import LabNamespace, request_query

CATALOG = "app.kubernetes.io/name=catalog"
MUTATING = {"create", "update", "patch", "delete", "deletecollection"}
GAMEDAY = str(Path(sys.executable).with_name("gameday"))


def experiment(tmp_path: Path, configuration: dict[str, Any], **overrides: Any) -> Path:
    """A short mesh-style experiment: no load, replica probes, a replica kill, latency."""
    document: dict[str, Any] = {
        "version": "1.0.0",
        "title": "catalog kill and payments latency",
        "description": "written for the local mesh; run on a cluster",
        "extensions": [
            {"name": "gameday", "target": "local", "load": False, "hypothesis_frequency_s": 0.5}
        ],
        "configuration": configuration,
        "steady-state-hypothesis": {
            "title": "catalog serves",
            "probes": [
                {
                    "type": "probe",
                    "name": "catalog-replicas-ready",
                    "tolerance": {"type": "range", "range": [1, 2]},
                    "provider": {
                        "type": "python",
                        "module": "chaos.probes.replicas",
                        "func": "replicas_ready",
                        "arguments": {"service": "catalog"},
                    },
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "kill-one-catalog-replica",
                "provider": {
                    "type": "python",
                    "module": "chaos.faults.process",
                    "func": "kill_replicas",
                    "arguments": {"service": "catalog", "count": 1, "seed": 3},
                },
            },
            {
                "type": "action",
                "name": "delay-orders-to-payments",
                "provider": {
                    "type": "python",
                    "module": "chaos.faults.network",
                    "func": "add_latency",
                    "arguments": {"edge": "orders->payments", "latency_ms": 500, "ttl_s": 60},
                },
                "pauses": {"after": 0.5},
            },
            {
                "type": "probe",
                "name": "catalog-recovers",
                "provider": {
                    "type": "python",
                    "module": "chaos.probes.replicas",
                    "func": "seconds_until_ready",
                    "arguments": {"service": "catalog", "timeout_s": 5},
                },
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "remove-payments-latency",
                "provider": {
                    "type": "python",
                    "module": "chaos.faults.network",
                    "func": "remove_toxics",
                    "arguments": {"edge": "orders->payments"},
                },
            }
        ],
    }
    document.update(overrides)
    document = {key: value for key, value in document.items() if value is not None}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def cluster(lab: LabNamespace, **extra: Any) -> dict[str, Any]:
    return lab.configuration(k8s_request_timeout_s=5, **extra)


def toxics(lab: LabNamespace, pod: str) -> dict[str, list[str]]:
    with ToxiproxyClient(lab.plane.sidecar_url(lab.name, pod)) as client:
        return {name: [t.name for t in p.toxics] for name, p in client.proxies().items()}


def calls(events: list[dict]) -> list[tuple[str, str, str | None]]:
    """(verb, resource[/subresource] or the URL path, name) of each audited request."""
    found = []
    for e in events:
        ref = e.get("objectRef")
        if ref is None:
            found.append((e["verb"], e["requestURI"].split("?")[0].rstrip("/"), None))
            continue
        what = "/".join(filter(None, (ref["resource"], ref.get("subresource"))))
        found.append((e["verb"], what, ref.get("name")))
    return found


def mutations(events: list[dict]) -> list[dict]:
    return [e for e in events if e["verb"] in MUTATING]


def versions(lab: LabNamespace) -> dict[str, str]:
    """kind/name -> resourceVersion of every pod and policy in the lab, and the generation of
    every deployment (its status is the controllers' to write; a scale changes its spec)."""
    admin = lab.plane.admin
    objects = [
        *admin.core.list_namespaced_pod(lab.name).items,
        *admin.networking.list_namespaced_network_policy(lab.name).items,
    ]
    found = {f"{type(o).__name__}/{o.metadata.name}": o.metadata.resource_version for o in objects}
    for deployment in admin.apps.list_namespaced_deployment(lab.name).items:
        found[f"Deployment/{deployment.metadata.name}"] = str(deployment.metadata.generation)
    return found


def test_a_mesh_experiment_runs_on_the_cluster_and_rolls_back(
    shop: LabNamespace, tmp_path: Path
) -> None:
    path = experiment(tmp_path, cluster(shop))
    catalog_before = shop.pod_names("catalog")
    since = time.time()

    result = run_experiment(path, RunOptions(target=f"k8s:{CLUSTER}", runs_dir=tmp_path / "runs"))

    assert (result.verdict, result.exit_code) == ("held", 0), result.reason
    assert result.summary["target"] == f"k8s:{CLUSTER}"
    events = shop.runner_requests(since)
    # The cluster was checked before anything else.
    assert calls(events[:2]) == [("get", "/version", None), ("get", "namespaces", shop.name)]
    # The only mutating API request: the mapped kill_replicas deleted one catalog pod at once.
    (delete,) = mutations(events)
    victim = delete["objectRef"]["name"]
    assert calls([delete]) == [("delete", "pods", victim)]
    assert victim in catalog_before
    assert request_query(delete)["gracePeriodSeconds"] == ["0"]
    # The mapped add_latency went to both orders pods' sidecars, through port-forwards.
    journal = json.loads((result.run_dir / "journal.json").read_text())
    outputs = {run["activity"]["name"]: run["output"] for run in journal["run"]}
    orders_pods = shop.pod_names("orders")
    assert sorted(outputs["delay-orders-to-payments"]["pods"]) == orders_pods
    forwarded = {name for verb, what, name in calls(events) if what == "pods/portforward"}
    assert forwarded == set(orders_pods)
    # State restored: no toxic left, the catalog back at two ready pods, ledger settled.
    for pod in [*orders_pods, *shop.pod_names("gateway")]:
        assert all(names == [] for names in toxics(shop, pod).values()), pod
    catalog_after = shop.pod_names("catalog")
    assert len(catalog_after) == 2 and victim not in catalog_after
    entries = Ledger(result.run_dir / "ledger.jsonl").entries()
    assert sorted(e.kind for e in entries) == ["k8s.kill_pods", "k8s.toxic.latency"]
    assert all(e.status == "undone" for e in entries)
    # What ran is what the run folder says ran: the Kubernetes providers.
    ran = json.loads((result.run_dir / "experiment.json").read_text())
    assert [a["provider"]["module"] + "." + a["provider"]["func"] for a in ran["method"]] == [
        "chaos.faults.kubernetes.kill_pods",
        "chaos.faults.kubernetes_network.add_latency",
        "chaos.probes.kubernetes_recovery.seconds_until_pods_ready",
    ]
    assert ran["method"][0]["provider"]["arguments"]["label_selector"] == CATALOG


def test_dry_run_sends_only_reads_and_changes_nothing(shop: LabNamespace, tmp_path: Path) -> None:
    path = experiment(tmp_path, cluster(shop))
    before = versions(shop)
    since = time.time()

    outcome = CliRunner().invoke(
        app, ["run", str(path), "--target", "k8s", "--dry-run", "--runs-dir", str(tmp_path)]
    )

    assert outcome.exit_code == 0, outcome.output
    events = shop.runner_requests(since)
    assert events and {e["verb"] for e in events} <= {"get", "list"}
    assert not any(what == "pods/portforward" for _, what, _ in calls(events))
    assert versions(shop) == before
    catalog = shop.pod_names("catalog")
    text = " ".join(outcome.output.split())
    assert "chaos.faults.kubernetes.kill_pods" in text
    assert sum(f"delete pod {shop.name}/{pod}" in text for pod in catalog) == 1
    for pod in shop.pod_names("orders"):
        assert f"{shop.name}/pod/{pod} sidecar orders->payments" in text
    assert f"replicas: {CATALOG} 1 pod(s)" in text
    assert "replicas: orders->payments 2 pod(s)" in text
    assert "edges: orders->payments" in text and "services: catalog, payments" in text
    assert not list(tmp_path.glob("*T*Z-*"))  # no run folder


def test_an_unreachable_api_server_is_could_not_run_quickly(
    refused_kubeconfig: Path, tmp_path: Path
) -> None:
    path = experiment(
        tmp_path, {"k8s_kubeconfig": str(refused_kubeconfig), "k8s_namespaces": ["gameday-lab"]}
    )
    started = time.monotonic()
    outcome = CliRunner().invoke(
        app, ["run", str(path), "--target", "k8s", "--no-live", "--runs-dir", str(tmp_path)]
    )
    assert outcome.exit_code == 4, outcome.output
    assert time.monotonic() - started < 20
    assert "not reachable" in outcome.output
    (run_dir,) = [p for p in tmp_path.iterdir() if (p / "summary.json").exists()]
    assert not (run_dir / "journal.json").exists()  # nothing was run


def test_a_silent_api_server_times_out_as_could_not_run(
    silent_kubeconfig: Path, tmp_path: Path
) -> None:
    configuration = {
        "k8s_kubeconfig": str(silent_kubeconfig),
        "k8s_namespaces": ["gameday-lab"],
        "k8s_request_timeout_s": 1,
    }
    started = time.monotonic()
    result = run_experiment(
        experiment(tmp_path, configuration), RunOptions(target="k8s", runs_dir=tmp_path)
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 4 and result.verdict == "could_not_run"
    assert "did not answer within 1 s" in result.reason
    assert elapsed >= 1.0 and elapsed < 20


def test_dry_run_against_an_unreachable_cluster_exits_4(
    refused_kubeconfig: Path, tmp_path: Path
) -> None:
    path = experiment(
        tmp_path, {"k8s_kubeconfig": str(refused_kubeconfig), "k8s_namespaces": ["gameday-lab"]}
    )
    result = run_experiment(path, RunOptions(target="k8s", dry_run=True, runs_dir=tmp_path))
    assert result.exit_code == 4 and result.run_dir is None
    assert result.plan.unreachable and "not reachable" in result.plan.unreachable
    assert "(not resolved:" in result.plan.steps[0].resolved[0]


def test_a_namespace_the_runner_may_not_read_is_could_not_run_naming_the_right(
    lab_namespace: LabNamespace, tmp_path: Path
) -> None:
    path = experiment(tmp_path, cluster(lab_namespace, k8s_namespaces=["shop-prod"]))
    result = run_experiment(path, RunOptions(target="k8s", runs_dir=tmp_path))
    assert result.exit_code == 4
    assert "not reachable" not in result.reason
    assert "shop-prod" in result.reason and "namespaces" in result.reason


def test_a_missing_namespace_is_could_not_run(lab_namespace: LabNamespace, tmp_path: Path) -> None:
    lab = lab_namespace
    # The runner may read namespace shop-prod (a ClusterRole naming it), which does not exist.
    name = f"read-shop-prod-{secrets.token_hex(3)}"
    rbac = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["namespaces"],
                    "resourceNames": ["shop-prod"],
                    "verbs": ["get"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": "gameday-runner", "namespace": lab.name}
            ],
        },
    ]
    text = yaml.safe_dump_all(rbac)
    lab.plane.kubectl("apply", "-f", "-", input=text)
    try:
        path = experiment(tmp_path, cluster(lab, k8s_namespaces=["shop-prod"]))
        since = time.time()
        result = run_experiment(path, RunOptions(target="k8s", runs_dir=tmp_path))
        assert result.exit_code == 4
        assert "namespace 'shop-prod' does not exist" in result.reason
        assert mutations(lab.runner_requests(since)) == []
    finally:
        lab.plane.kubectl("delete", "-f", "-", input=text, check=False)


def test_a_system_namespace_is_refused_before_any_request(
    lab_namespace: LabNamespace, tmp_path: Path
) -> None:
    kill = {
        "type": "action",
        "name": "kill-dns",
        "provider": {
            "type": "python",
            "module": "chaos.faults.kubernetes",
            "func": "kill_pods",
            "arguments": {"label_selector": "k8s-app=kube-dns", "namespace": "kube-system"},
        },
    }
    path = experiment(
        tmp_path,
        cluster(lab_namespace, k8s_namespaces=["kube-system"]),
        method=[kill],
        rollbacks=[],
    )
    since = time.time()
    with pytest.raises(ExperimentError) as raised:
        run_experiment(path, RunOptions(target="k8s", runs_dir=tmp_path))
    (issue,) = raised.value.issues
    assert issue.field == "method[0].provider.arguments.namespace"
    assert issue.line is not None and "kube-system" in issue.message
    assert "belongs to the cluster itself" in issue.message
    outcome = CliRunner().invoke(
        app, ["run", str(path), "--target", "k8s", "--runs-dir", str(tmp_path)]
    )
    assert outcome.exit_code == 2 and "Traceback" not in outcome.output
    assert lab_namespace.runner_requests(since) == []
    assert not list(tmp_path.glob("*T*Z-*"))


def native_method(namespace: str) -> list[dict[str, Any]]:
    """A partition and a scale-down in the lab, both lifted by the ledger sweep."""
    return [
        {
            "type": "action",
            "name": "cut-orders-from-payments",
            "provider": {
                "type": "python",
                "module": "chaos.faults.kubernetes",
                "func": "partition",
                "arguments": {
                    "from_selector": "app.kubernetes.io/name=orders",
                    "to_selector": "app.kubernetes.io/name=payments",
                    "direction": "one-way",
                    "namespace": namespace,
                },
            },
        },
        {
            "type": "action",
            "name": "catalog-down-to-one",
            "provider": {
                "type": "python",
                "module": "chaos.faults.kubernetes",
                "func": "scale_deployment",
                "arguments": {"name": "catalog", "replicas": 1, "namespace": namespace},
            },
            "pauses": {"after": 0.3},
        },
    ]


@pytest.fixture
def native_lab(lab_namespace: LabNamespace) -> LabNamespace:
    lab_namespace.deploy("orders", 1)
    lab_namespace.deploy("payments", 1)
    lab_namespace.deploy("catalog", 3)
    return lab_namespace


def test_native_kubernetes_faults_are_lifted_when_the_method_ends(
    native_lab: LabNamespace, tmp_path: Path
) -> None:
    lab = native_lab
    path = experiment(
        tmp_path,
        cluster(lab),
        method=native_method(lab.name),
        rollbacks=[],
        **{"steady-state-hypothesis": None},
    )
    since = time.time()

    result = run_experiment(path, RunOptions(target="k8s", runs_dir=tmp_path / "runs"))

    assert result.exit_code == 0, result.reason
    changed = mutations(lab.runner_requests(since))
    policy = changed[0]["responseStatus"]
    assert policy["code"] == 201  # the NetworkPolicy passed the server's validation
    (created,) = [e for e in changed if e["verb"] == "create"]
    entries = Ledger(result.run_dir / "ledger.jsonl").entries()
    (partition,) = [e for e in entries if e.kind == "k8s.partition"]
    (policy_name,) = partition.undo.arguments["policies"]
    assert calls(changed) == [
        ("create", "networkpolicies", policy_name),
        ("patch", "deployments/scale", "catalog"),
        # The engine's ledger sweep, newest first.
        ("patch", "deployments/scale", "catalog"),
        ("delete", "networkpolicies", policy_name),
    ]
    assert created is changed[0]
    assert lab.plane.admin.networking.list_namespaced_network_policy(lab.name).items == []
    assert lab.deployment("catalog")["spec"]["replicas"] == 3
    lab.wait_available("catalog", 3)
    assert sorted(e.kind for e in entries) == ["k8s.partition", "k8s.scale"]
    assert all(e.status == "undone" for e in entries)


@pytest.mark.slow
def test_gameday_rollback_after_sigkill_mid_fault_restores_the_cluster(
    native_lab: LabNamespace, tmp_path: Path
) -> None:
    lab = native_lab
    method = native_method(lab.name)
    method[1]["pauses"] = {"after": 120}  # still mid-fault when it is killed
    path = experiment(
        tmp_path, cluster(lab), method=method, rollbacks=[], **{"steady-state-hypothesis": None}
    )
    runs = tmp_path / "runs"
    output = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [GAMEDAY, "run", str(path), "--target", "k8s", "--no-live",
         "--runs-dir", str(runs)],
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:

        def mid_fault() -> Path | None:
            for ledger in runs.glob("*/ledger.jsonl"):
                entries = Ledger(ledger).entries()
                if sorted(e.kind for e in entries if e.status == "applied") == [
                    "k8s.partition",
                    "k8s.scale",
                ]:
                    return ledger.parent
            return None

        run_dir = lab.wait_for(
            mid_fault, 60, f"both faults applied (run output: {tmp_path / 'run.log'})"
        )
        assert lab.deployment("catalog")["spec"]["replicas"] == 1
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
        output.close()
    assert lab.plane.admin.networking.list_namespaced_network_policy(lab.name).items

    outcome = subprocess.run(
        [GAMEDAY, "rollback", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert lab.plane.admin.networking.list_namespaced_network_policy(lab.name).items == []
    assert lab.deployment("catalog")["spec"]["replicas"] == 3
    lab.wait_available("catalog", 3)
    assert Ledger(run_dir / "ledger.jsonl").outstanding() == []


def test_an_unknown_context_is_could_not_run(lab_namespace: LabNamespace, tmp_path: Path) -> None:
    path = experiment(tmp_path, cluster(lab_namespace))
    since = time.time()
    result = run_experiment(path, RunOptions(target="k8s:no-such", runs_dir=tmp_path))
    assert result.exit_code == 4
    assert "no-such" in result.reason
    assert lab_namespace.runner_requests(since) == []
