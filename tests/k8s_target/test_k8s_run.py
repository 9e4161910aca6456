"""`gameday run --target k8s`: the same experiment file, mapped to Kubernetes providers and
run by the engine end to end against the API stand-in (real kubernetes client, websocket
port-forwards to one Toxiproxy-compatible sidecar per pod)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_standin import NAMESPACE, StandIn
from typer.testing import CliRunner

from chaos.engine import RunOptions, run_experiment
from chaos.experiment import ExperimentError
from chaos.proxy import ToxiproxyClient
from chaos.safety.ledger import Ledger
from cli.main import app

CATALOG = "app.kubernetes.io/name=catalog"


def experiment(tmp_path: Path, configuration: dict[str, Any], **overrides: Any) -> Path:
    """A short mesh-style experiment: no load, replica probes, a replica kill, latency."""
    document: dict[str, Any] = {
        "version": "1.0.0",
        "title": "catalog kill and payments latency",
        "description": "written for the local mesh; run on a cluster",
        "target": "local",
        "load": False,
        "hypothesis_frequency_s": 0.5,
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


def cluster(standin: StandIn, **extra: Any) -> dict[str, Any]:
    return {
        "k8s_kubeconfig": str(standin.kubeconfig),
        "k8s_namespaces": [NAMESPACE],
        "k8s_request_timeout_s": 5,
        **extra,
    }


def toxics(url: str) -> dict[str, list[str]]:
    with ToxiproxyClient(url) as client:
        return {name: [t.name for t in p.toxics] for name, p in client.proxies().items()}


def test_a_mesh_experiment_runs_on_the_cluster_and_rolls_back(
    standin: StandIn, shop: dict[str, str], tmp_path: Path
) -> None:
    path = experiment(tmp_path, cluster(standin))
    catalog_before = sorted(p["metadata"]["name"] for p in standin.state.app_pods("catalog"))

    result = run_experiment(path, RunOptions(target="k8s:stand-in", runs_dir=tmp_path / "runs"))

    assert (result.verdict, result.exit_code) == ("held", 0), result.reason
    assert result.summary["target"] == "k8s:stand-in"
    # The cluster was checked before anything else.
    first, second = standin.state.requests[:2]
    assert (first.method, first.path) == ("GET", "/version/")
    assert (second.method, second.path) == ("GET", f"/api/v1/namespaces/{NAMESPACE}")
    # The only mutating API request: the mapped kill_replicas deleted one catalog pod at once.
    (delete,) = standin.state.mutating()
    assert delete.method == "DELETE"
    victim = delete.path.rsplit("/", 1)[1]
    assert delete.path == f"/api/v1/namespaces/{NAMESPACE}/pods/{victim}"
    assert victim in catalog_before
    assert delete.query == {"gracePeriodSeconds": ["0"]}
    # The mapped add_latency went to both orders pods' sidecars, no one else's.
    journal = json.loads((result.run_dir / "journal.json").read_text())
    outputs = {run["activity"]["name"]: run["output"] for run in journal["run"]}
    orders_pods = sorted(p["metadata"]["name"] for p in standin.state.app_pods("orders"))
    assert sorted(outputs["delay-orders-to-payments"]["pods"]) == orders_pods
    forwards = {r.path for r in standin.state.requests if r.path.endswith("/portforward")}
    assert forwards == {
        f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/portforward" for pod in orders_pods
    }
    # State restored: no toxic left, the catalog back at two ready pods, ledger settled.
    for pod, url in shop.items():
        assert all(names == [] for names in toxics(url).values()), pod
    catalog_after = standin.state.app_pods("catalog")
    assert len(catalog_after) == 2 and victim not in {p["metadata"]["name"] for p in catalog_after}
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


def test_dry_run_sends_only_gets_and_lists_the_pods(
    standin: StandIn, shop: dict[str, str], tmp_path: Path
) -> None:
    path = experiment(tmp_path, cluster(standin))

    outcome = CliRunner().invoke(
        app, ["run", str(path), "--target", "k8s", "--dry-run", "--runs-dir", str(tmp_path)]
    )

    assert outcome.exit_code == 0, outcome.output
    assert {r.method for r in standin.state.requests} == {"GET"}
    assert not any(r.path.endswith("/portforward") for r in standin.state.requests)
    catalog = sorted(p["metadata"]["name"] for p in standin.state.app_pods("catalog"))
    orders = sorted(p["metadata"]["name"] for p in standin.state.app_pods("orders"))
    text = " ".join(outcome.output.split())
    assert "chaos.faults.kubernetes.kill_pods" in text
    assert sum(f"delete pod {NAMESPACE}/{pod}" in text for pod in catalog) == 1
    for pod in orders:
        assert f"{NAMESPACE}/pod/{pod} sidecar orders->payments" in text
    assert f"replicas: {CATALOG} 1 pod(s)" in text
    assert "replicas: orders->payments 2 pod(s)" in text
    assert "edges: orders->payments" in text and "services: catalog, payments" in text
    assert len(standin.state.app_pods("catalog")) == 2
    assert not list(tmp_path.glob("*T*Z-*"))  # no run folder


def test_an_unreachable_api_server_is_could_not_run_quickly(
    refused_kubeconfig: Path, tmp_path: Path
) -> None:
    path = experiment(
        tmp_path, {"k8s_kubeconfig": str(refused_kubeconfig), "k8s_namespaces": [NAMESPACE]}
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
        "k8s_namespaces": [NAMESPACE],
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
        tmp_path, {"k8s_kubeconfig": str(refused_kubeconfig), "k8s_namespaces": [NAMESPACE]}
    )
    result = run_experiment(path, RunOptions(target="k8s", dry_run=True, runs_dir=tmp_path))
    assert result.exit_code == 4 and result.run_dir is None
    assert result.plan.unreachable and "not reachable" in result.plan.unreachable
    assert "(not resolved:" in result.plan.steps[0].resolved[0]


def test_a_missing_namespace_is_could_not_run(standin: StandIn, tmp_path: Path) -> None:
    path = experiment(tmp_path, cluster(standin, k8s_namespaces=["shop-prod"]))
    result = run_experiment(path, RunOptions(target="k8s", runs_dir=tmp_path))
    assert result.exit_code == 4
    assert "namespace 'shop-prod' does not exist" in result.reason
    assert standin.state.mutating() == []


def test_a_system_namespace_is_refused_before_any_request(standin: StandIn, tmp_path: Path) -> None:
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
        tmp_path, cluster(standin, k8s_namespaces=["kube-system"]), method=[kill], rollbacks=[]
    )
    with pytest.raises(ExperimentError) as raised:
        run_experiment(path, RunOptions(target="k8s", runs_dir=tmp_path))
    (issue,) = raised.value.issues
    assert issue.field == "method[0].provider.arguments.namespace"
    assert issue.line is not None and "kube-system" in issue.message
    assert "belongs to the cluster itself" in issue.message
    assert standin.state.requests == []
    outcome = CliRunner().invoke(
        app, ["run", str(path), "--target", "k8s", "--runs-dir", str(tmp_path)]
    )
    assert outcome.exit_code == 2 and "Traceback" not in outcome.output
    assert standin.state.requests == []
    assert not list(tmp_path.glob("*T*Z-*"))


def test_native_kubernetes_faults_are_lifted_when_the_method_ends(
    standin: StandIn, tmp_path: Path
) -> None:
    standin.state.add_app("orders", 1)
    standin.state.add_app("payments", 1)
    standin.state.add_app("catalog", 3)
    method = [
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
                "arguments": {"name": "catalog", "replicas": 1},
            },
            "pauses": {"after": 0.3},
        },
    ]
    path = experiment(
        tmp_path,
        cluster(standin),
        method=method,
        rollbacks=[],
        **{"steady-state-hypothesis": None},
    )

    result = run_experiment(path, RunOptions(target="k8s", runs_dir=tmp_path / "runs"))

    assert result.exit_code == 0, result.reason
    calls = [(r.method, r.path.rsplit("/", 2)[-2:], r.body) for r in standin.state.mutating()]
    policy = f"{NAMESPACE}/networkpolicies"
    assert [(m, "/".join(p)) for m, p, _ in calls] == [
        ("POST", policy),
        ("PATCH", "catalog/scale"),
        # The engine's ledger sweep, newest first.
        ("PATCH", "catalog/scale"),
        ("DELETE", f"networkpolicies/{calls[0][2]['metadata']['name']}"),
    ]
    assert [body for m, _, body in calls if m == "PATCH"] == [
        {"spec": {"replicas": 1}},
        {"spec": {"replicas": 3}},
    ]
    assert standin.state.policies == {}
    assert standin.state.deployments["catalog"]["spec"]["replicas"] == 3
    entries = Ledger(result.run_dir / "ledger.jsonl").entries()
    assert sorted(e.kind for e in entries) == ["k8s.partition", "k8s.scale"]
    assert all(e.status == "undone" for e in entries)


def test_an_unknown_context_is_could_not_run(standin: StandIn, tmp_path: Path) -> None:
    path = experiment(tmp_path, cluster(standin))
    result = run_experiment(path, RunOptions(target="k8s:no-such", runs_dir=tmp_path))
    assert result.exit_code == 4
    assert "no-such" in result.reason
    assert standin.state.requests == []
