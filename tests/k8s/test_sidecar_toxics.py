"""Sidecar toxics through the real API server: the kubernetes client port-forwards
(websocket, pods/portforward) through kube-apiserver's upgrade proxy to the node agent's
kubelet endpoint, which connects to the pod's sidecar (one Toxiproxy-compatible server
per pod, configured from the pod's ConfigMap as in k8s/shop)."""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import pytest

from chaos.faults import kubernetes_network as kn
from chaos.faults import network
from chaos.faults.errors import FaultNotApplied, InvalidFaultArgument
from chaos.proxy import ToxiproxyClient
from chaos.safety.k8s_scope import BlastRadiusRefused
from chaos.safety.ledger import Ledger, undo_outstanding
from tests.k8s.controlplane.lab import LabNamespace, request_query

ORDERS_EDGES = ["orders->catalog", "orders->inventory", "orders->payments", "orders->notifications"]
GATEWAY_EDGES = [
    "client->gateway",
    "gateway->catalog",
    "gateway->recommendations",
    "gateway->inventory",
    "gateway->orders",
]


@pytest.fixture
def sidecars(lab_namespace: LabNamespace) -> LabNamespace:
    """Two orders pods and one gateway pod, each with its Toxiproxy sidecar."""
    lab_namespace.deploy("orders", 2, sidecar=True)
    lab_namespace.deploy("gateway", 1, sidecar=True)
    return lab_namespace


def configuration(lab: LabNamespace, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return lab.configuration(gameday_ledger=str(tmp_path / "ledger.jsonl"), **extra)


def toxics(lab: LabNamespace, pod: str) -> dict[str, list[tuple[str, dict]]]:
    """The pod's sidecar as its own API reports it (reached directly, not through the API
    server)."""
    with ToxiproxyClient(lab.plane.sidecar_url(lab.name, pod)) as client:
        return {
            name: [(t.name, t.attributes) for t in proxy.toxics]
            for name, proxy in client.proxies().items()
        }


def forwards(events: list[dict]) -> list[dict]:
    return [e for e in events if e["objectRef"].get("subresource") == "portforward"]


def test_latency_reaches_every_caller_sidecar_through_port_forward_and_undo_removes_it(
    sidecars: LabNamespace, tmp_path: Path
) -> None:
    lab = sidecars
    config = configuration(lab, tmp_path)
    since = time.time()
    result = kn.add_sidecar_latency(
        "orders->payments", 800, namespace=lab.name, configuration=config
    )

    orders_pods = lab.pod_names("orders")
    assert sorted(result["pods"]) == orders_pods
    for pod in orders_pods:
        assert toxics(lab, pod) == {
            **{edge: [] for edge in ORDERS_EDGES},
            "orders->payments": [("gameday-latency-downstream", {"latency": 800, "jitter": 0})],
        }
    (gateway_pod,) = lab.pod_names("gateway")
    assert all(t == [] for t in toxics(lab, gateway_pod).values())

    events = lab.runner_requests(since)
    assert events[0]["verb"] == "list"
    assert request_query(events[0])["labelSelector"] == ["app.kubernetes.io/name=orders"]
    opened = forwards(events)
    assert {e["objectRef"]["name"] for e in opened} == set(orders_pods)
    assert all(e["verb"] == "get" and request_query(e)["ports"] == ["8474"] for e in opened)
    # 101: the API server switched protocols and proxied the websocket to the node.
    assert {e["responseStatus"]["code"] for e in opened} == {101}

    settled, failures = undo_outstanding(Ledger(config["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    for pod in orders_pods:
        assert toxics(lab, pod)["orders->payments"] == []


def test_a_wildcard_caller_selects_every_shop_pod_with_a_matching_proxy(
    sidecars: LabNamespace, tmp_path: Path
) -> None:
    lab = sidecars
    since = time.time()
    result = kn.add_sidecar_toxic(
        "*->orders",
        "timeout",
        {"timeout": 0},
        stream="both",
        namespace=lab.name,
        configuration=configuration(lab, tmp_path),
    )
    listing = lab.runner_requests(since)[0]
    assert request_query(listing)["labelSelector"] == ["app.kubernetes.io/part-of=shop"]
    (gateway_pod,) = lab.pod_names("gateway")
    assert result["pods"] == {gateway_pod: ["gateway->orders"]}
    assert [name for name, _ in toxics(lab, gateway_pod)["gateway->orders"]] == [
        "gameday-timeout-upstream",
        "gameday-timeout-downstream",
    ]


def test_mode_one_touches_one_pod(sidecars: LabNamespace, tmp_path: Path) -> None:
    lab = sidecars
    result = kn.add_sidecar_latency(
        "orders->payments",
        100,
        mode="one",
        seed=1,
        namespace=lab.name,
        configuration=configuration(lab, tmp_path),
    )
    assert len(result["pods"]) == 1
    touched = [pod for pod in lab.pod_names("orders") if toxics(lab, pod)["orders->payments"]]
    assert touched == list(result["pods"])


def test_an_edge_no_sidecar_has_is_not_applied(sidecars: LabNamespace, tmp_path: Path) -> None:
    config = configuration(sidecars, tmp_path)
    with pytest.raises(FaultNotApplied, match="no sidecar .* has a proxy matching"):
        kn.add_sidecar_latency(
            "orders->nowhere", 100, namespace=sidecars.name, configuration=config
        )
    (entry,) = Ledger(config["gameday_ledger"]).entries()
    assert entry.status == "not_applied"  # nothing changed, nothing for a rollback to undo


def test_sidecar_dry_run_does_not_port_forward_or_write_the_ledger(
    sidecars: LabNamespace, tmp_path: Path
) -> None:
    lab = sidecars
    since = time.time()
    result = kn.add_sidecar_latency(
        "orders->payments",
        100,
        dry_run=True,
        namespace=lab.name,
        configuration=configuration(lab, tmp_path),
    )
    assert len(result["would_change"]) == 2
    assert [e["verb"] for e in lab.runner_requests(since)] == ["list"]
    assert not (tmp_path / "ledger.jsonl").exists()
    for pod in lab.pod_names():
        assert not any(toxics(lab, pod).values())


def test_sidecar_faults_respect_the_blast_radius(sidecars: LabNamespace, tmp_path: Path) -> None:
    since = time.time()
    with pytest.raises(BlastRadiusRefused, match="not in the experiment's allow-list"):
        kn.add_sidecar_latency(
            "orders->payments",
            100,
            namespace="default",
            configuration=configuration(sidecars, tmp_path),
        )
    assert sidecars.runner_requests(since) == []


def test_a_pod_replaced_by_its_replicaset_gets_a_fresh_sidecar_and_the_undo_still_settles(
    sidecars: LabNamespace, tmp_path: Path
) -> None:
    lab = sidecars
    config = configuration(lab, tmp_path)
    result = kn.add_sidecar_latency(
        "orders->payments", 100, namespace=lab.name, configuration=config
    )
    victim, survivor = sorted(result["pods"])
    lab.plane.kubectl("delete", "pod", "-n", lab.name, victim, "--grace-period=0", "--force")
    lab.wait_for(lambda: victim not in lab.pod_names("orders"), 30, f"pod {victim} to be gone")
    lab.wait_available("orders", 2)
    (replacement,) = set(lab.pod_names("orders")) - {survivor}
    assert toxics(lab, replacement)["orders->payments"] == []
    assert [name for name, _ in toxics(lab, survivor)["orders->payments"]] == [
        "gameday-latency-downstream"
    ]
    with pytest.raises(LookupError):
        lab.plane.sidecar_url(lab.name, victim)
    # The undo cleans the survivor and takes the vanished pod's toxic as gone with it.
    settled, failures = undo_outstanding(Ledger(config["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    assert toxics(lab, survivor)["orders->payments"] == []


# -- the chaos.faults.network names, for one experiment file on both targets -------------

MESH_COMPATIBLE = [
    "add_latency",
    "reset_connections",
    "partition",
    "remove_toxics",
    "heal_partition",
]


@pytest.mark.parametrize("name", MESH_COMPATIBLE)
def test_mesh_fault_arguments_bind_to_the_kubernetes_namesake(name: str) -> None:
    mesh = inspect.signature(getattr(network, name)).parameters
    cluster = inspect.signature(getattr(kn, name)).parameters
    assert set(mesh) <= set(cluster)
    required = {p for p, v in cluster.items() if v.default is inspect.Parameter.empty}
    assert required <= {p for p, v in mesh.items() if v.default is inspect.Parameter.empty}


def test_mesh_style_latency_by_service_and_remove_toxics_settle_the_ledger(
    sidecars: LabNamespace, tmp_path: Path
) -> None:
    lab = sidecars
    config = configuration(lab, tmp_path)
    result = kn.add_latency(
        300, service="payments", ttl_s=60, namespace=lab.name, configuration=config
    )
    assert sorted(result["pods"]) == lab.pod_names("orders")
    for pod in result["pods"]:
        assert toxics(lab, pod)["orders->payments"] == [
            ("gameday-latency-downstream", {"latency": 300, "jitter": 0})
        ]
    removed = kn.remove_toxics(service="payments", namespace=lab.name, configuration=config)
    assert len(removed["removed"]) == 2
    assert all(not any(toxics(lab, pod).values()) for pod in lab.pod_names())
    assert Ledger(config["gameday_ledger"]).outstanding() == []


def test_mesh_style_blackhole_partition_and_heal(sidecars: LabNamespace, tmp_path: Path) -> None:
    lab = sidecars
    config = configuration(lab, tmp_path)
    kn.partition(edge="gateway->orders", namespace=lab.name, configuration=config)
    (gateway_pod,) = lab.pod_names("gateway")
    assert toxics(lab, gateway_pod)["gateway->orders"] == [
        ("gameday-timeout-upstream", {"timeout": 0}),
        ("gameday-timeout-downstream", {"timeout": 0}),
    ]
    kn.heal_partition(edge="gateway->orders", namespace=lab.name, configuration=config)
    assert toxics(lab, gateway_pod)["gateway->orders"] == []
    assert Ledger(config["gameday_ledger"]).outstanding() == []
    with pytest.raises(InvalidFaultArgument, match="not available on Kubernetes"):
        kn.partition(
            mode="refuse", edge="gateway->orders", namespace=lab.name, configuration=config
        )
    with pytest.raises(InvalidFaultArgument, match="exactly one of"):
        kn.add_latency(
            100, edge="gateway->orders", service="orders", namespace=lab.name, configuration=config
        )
