"""Sidecar toxics: the real kubernetes client port-forwards (websocket) through the API
stand-in to one Toxiproxy-compatible server per pod, playing the pods' sidecars."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_standin import NAMESPACE, StandIn, serve_sidecars

from chaos.faults import kubernetes_network as kn
from chaos.faults import network
from chaos.faults.errors import FaultNotApplied, InvalidFaultArgument
from chaos.proxy import ToxiproxyClient
from chaos.safety.k8s_scope import BlastRadiusRefused
from chaos.safety.ledger import Ledger, undo_outstanding

EDGES = {"orders": ["orders->payments", "orders->inventory"], "gateway": ["gateway->orders"]}


@pytest.fixture
def sidecars(standin: StandIn) -> Iterator[dict[str, str]]:
    """Two orders pods and one gateway pod, each with its own sidecar API; pod -> API URL."""
    standin.state.add_app("orders", 2)
    standin.state.add_app("gateway", 1)
    with serve_sidecars(standin.state, EDGES) as urls:
        yield urls


def toxics(url: str) -> dict[str, list[tuple[str, dict]]]:
    with ToxiproxyClient(url) as client:
        return {
            name: [(t.name, t.attributes) for t in proxy.toxics]
            for name, proxy in client.proxies().items()
        }


def test_latency_reaches_every_caller_sidecar_and_undo_removes_it(
    standin: StandIn, sidecars: dict[str, str], tmp_path: Path
) -> None:
    configuration = standin.configuration(tmp_path)
    result = kn.add_sidecar_latency("orders->payments", 800, configuration=configuration)

    orders_pods = sorted(p["metadata"]["name"] for p in standin.state.app_pods("orders"))
    assert sorted(result["pods"]) == orders_pods
    for pod in orders_pods:
        assert toxics(sidecars[pod]) == {
            "orders->payments": [("gameday-latency-downstream", {"latency": 800, "jitter": 0})],
            "orders->inventory": [],
        }
    gateway_pod = standin.state.app_pods("gateway")[0]["metadata"]["name"]
    assert toxics(sidecars[gateway_pod]) == {"gateway->orders": []}

    listing = standin.state.requests[0]
    assert listing.query == {"labelSelector": ["app.kubernetes.io/name=orders"]}
    forwards = [r for r in standin.state.requests if r.path.endswith("/portforward")]
    assert {r.path for r in forwards} == {
        f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/portforward" for pod in orders_pods
    }
    assert all(r.method == "GET" and r.query == {"ports": ["8474"]} for r in forwards)
    assert all(r.headers["upgrade"].lower() == "websocket" for r in forwards)

    settled, failures = undo_outstanding(Ledger(configuration["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    for pod in orders_pods:
        assert toxics(sidecars[pod])["orders->payments"] == []


def test_a_wildcard_caller_selects_every_shop_pod_with_a_matching_proxy(
    standin: StandIn, sidecars: dict[str, str], tmp_path: Path
) -> None:
    result = kn.add_sidecar_toxic(
        "*->orders",
        "timeout",
        {"timeout": 0},
        stream="both",
        configuration=standin.configuration(tmp_path),
    )
    assert standin.state.requests[0].query == {"labelSelector": ["app.kubernetes.io/part-of=shop"]}
    gateway_pod = standin.state.app_pods("gateway")[0]["metadata"]["name"]
    assert result["pods"] == {gateway_pod: ["gateway->orders"]}
    assert [name for name, _ in toxics(sidecars[gateway_pod])["gateway->orders"]] == [
        "gameday-timeout-upstream",
        "gameday-timeout-downstream",
    ]


def test_mode_one_touches_one_pod(
    standin: StandIn, sidecars: dict[str, str], tmp_path: Path
) -> None:
    result = kn.add_sidecar_latency(
        "orders->payments", 100, mode="one", seed=1, configuration=standin.configuration(tmp_path)
    )
    assert len(result["pods"]) == 1
    touched = [pod for pod, url in sidecars.items() if toxics(url).get("orders->payments")]
    assert touched == list(result["pods"])


def test_an_edge_no_sidecar_has_is_not_applied(
    standin: StandIn, sidecars: dict[str, str], tmp_path: Path
) -> None:
    configuration = standin.configuration(tmp_path)
    with pytest.raises(FaultNotApplied, match="no sidecar .* has a proxy matching"):
        kn.add_sidecar_latency("orders->nowhere", 100, configuration=configuration)
    (entry,) = Ledger(configuration["gameday_ledger"]).entries()
    assert entry.status == "not_applied"


def test_sidecar_dry_run_does_not_port_forward_or_write_the_ledger(
    standin: StandIn, sidecars: dict[str, str], tmp_path: Path
) -> None:
    result = kn.add_sidecar_latency(
        "orders->payments", 100, dry_run=True, configuration=standin.configuration(tmp_path)
    )
    assert len(result["would_change"]) == 2
    assert [r.method for r in standin.state.requests] == ["GET"]
    assert not any(r.path.endswith("/portforward") for r in standin.state.requests)
    assert not (tmp_path / "ledger.jsonl").exists()
    assert all(not any(toxics(url).values()) for url in sidecars.values())


def test_sidecar_faults_respect_the_blast_radius(
    standin: StandIn, sidecars: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(BlastRadiusRefused, match="not in the experiment's allow-list"):
        kn.add_sidecar_latency(
            "orders->payments",
            100,
            namespace="default",
            configuration=standin.configuration(tmp_path),
        )
    assert standin.state.requests == []


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
    standin: StandIn, sidecars: dict[str, str], tmp_path: Path
) -> None:
    configuration = standin.configuration(tmp_path)
    result = kn.add_latency(300, service="payments", ttl_s=60, configuration=configuration)
    assert sorted(result["pods"]) == sorted(
        p["metadata"]["name"] for p in standin.state.app_pods("orders")
    )
    for pod in result["pods"]:
        assert toxics(sidecars[pod])["orders->payments"] == [
            ("gameday-latency-downstream", {"latency": 300, "jitter": 0})
        ]
    removed = kn.remove_toxics(service="payments", configuration=configuration)
    assert len(removed["removed"]) == 2
    assert all(not any(toxics(url).values()) for url in sidecars.values())
    assert Ledger(configuration["gameday_ledger"]).outstanding() == []


def test_mesh_style_blackhole_partition_and_heal(
    standin: StandIn, sidecars: dict[str, str], tmp_path: Path
) -> None:
    configuration = standin.configuration(tmp_path)
    kn.partition(edge="gateway->orders", configuration=configuration)
    gateway_pod = standin.state.app_pods("gateway")[0]["metadata"]["name"]
    assert toxics(sidecars[gateway_pod])["gateway->orders"] == [
        ("gameday-timeout-upstream", {"timeout": 0}),
        ("gameday-timeout-downstream", {"timeout": 0}),
    ]
    kn.heal_partition(edge="gateway->orders", configuration=configuration)
    assert toxics(sidecars[gateway_pod])["gateway->orders"] == []
    assert Ledger(configuration["gameday_ledger"]).outstanding() == []
    with pytest.raises(InvalidFaultArgument, match="not available on Kubernetes"):
        kn.partition(mode="refuse", edge="gateway->orders", configuration=configuration)
    with pytest.raises(InvalidFaultArgument, match="exactly one of"):
        kn.add_latency(100, edge="gateway->orders", service="orders", configuration=configuration)
