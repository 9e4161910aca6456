"""Kubernetes faults with the real kubernetes client against the API stand-in."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from k8s_standin import NAMESPACE, TOKEN, StandIn

from chaos.faults import kubernetes as kf
from chaos.faults.errors import FaultNotApplied, InvalidFaultArgument, TargetNotFound
from chaos.k8s.errors import KubernetesUnreachable
from chaos.safety.k8s_scope import BlastRadiusRefused
from chaos.safety.ledger import Ledger, undo_outstanding

PAYMENTS = "app.kubernetes.io/name=payments"
ORDERS = "app.kubernetes.io/name=orders"


@pytest.fixture
def shop(standin: StandIn) -> StandIn:
    standin.state.add_app("payments", 4)
    standin.state.add_app("orders", 2)
    return standin


def deletes(standin: StandIn) -> list:
    return [r for r in standin.state.requests if r.method == "DELETE"]


# -- pod kills ----------------------------------------------------------------------------


def test_kill_one_lists_by_selector_then_deletes_one_pod_with_grace_zero(
    shop: StandIn, tmp_path: Path
) -> None:
    result = kf.kill_pods(PAYMENTS, configuration=shop.configuration(tmp_path))

    listing, delete = shop.state.requests
    assert (listing.method, listing.path) == ("GET", f"/api/v1/namespaces/{NAMESPACE}/pods")
    assert listing.query == {"labelSelector": [PAYMENTS]}
    assert listing.headers["authorization"] == f"Bearer {TOKEN}"
    assert delete.method == "DELETE"
    assert delete.path == f"/api/v1/namespaces/{NAMESPACE}/pods/{result['killed'][0]}"
    assert delete.query == {"gracePeriodSeconds": ["0"]}
    assert len(result["killed"]) == 1
    assert len(shop.state.app_pods("payments")) == 3
    assert len(shop.state.app_pods("orders")) == 2  # outside the selector: untouched


@pytest.mark.parametrize(
    ("mode", "extra", "expected"),
    [
        ("all", {}, 4),
        ("count", {"count": 3}, 3),
        ("count", {"count": 9}, 4),
        ("percent", {"percent": 50}, 2),
        ("percent", {"percent": 10}, 1),
    ],
)
def test_kill_modes_delete_the_right_number_of_pods(
    shop: StandIn, tmp_path: Path, mode: str, extra: dict, expected: int
) -> None:
    result = kf.kill_pods(PAYMENTS, mode=mode, configuration=shop.configuration(tmp_path), **extra)
    assert len(result["killed"]) == expected
    assert len(deletes(shop)) == expected
    assert {r.path.rsplit("/", 1)[1] for r in deletes(shop)} == set(result["killed"])
    assert len(shop.state.app_pods("payments")) == 4 - expected


def test_kill_passes_a_custom_grace_period(shop: StandIn, tmp_path: Path) -> None:
    kf.kill_pods(PAYMENTS, grace_period_seconds=7, configuration=shop.configuration(tmp_path))
    assert deletes(shop)[0].query == {"gracePeriodSeconds": ["7"]}


@pytest.mark.parametrize(
    "args",
    [{"mode": "count"}, {"mode": "percent", "percent": 0}, {"mode": "some"}],
)
def test_kill_rejects_bad_mode_arguments_before_deleting(
    shop: StandIn, tmp_path: Path, args: dict
) -> None:
    with pytest.raises(InvalidFaultArgument):
        kf.kill_pods(PAYMENTS, configuration=shop.configuration(tmp_path), **args)
    assert deletes(shop) == []


def test_kill_writes_the_ledger_intent_before_deleting_and_undo_confirms_replacement(
    shop: StandIn, tmp_path: Path
) -> None:
    shop.state.replace_deleted = True
    configuration = shop.configuration(tmp_path)
    result = kf.kill_pods(PAYMENTS, mode="all", configuration=configuration)

    ledger = Ledger(configuration["gameday_ledger"])
    intent, applied = ledger.history()
    assert (intent.status, applied.status) == ("intent", "applied")
    assert intent.undo.func == "confirm_pods_replaced"
    assert intent.undo.arguments["expected_ready"] == 4
    assert intent.undo.arguments["cluster"] == {
        "k8s_kubeconfig": str(shop.kubeconfig.resolve()),
        "k8s_context": "stand-in",
        "k8s_request_timeout_s": 5.0,
    }
    assert set(result["killed"]).isdisjoint(
        p["metadata"]["name"] for p in shop.state.app_pods("payments")
    )

    settled, failures = undo_outstanding(ledger)  # what `gameday rollback` does
    assert failures == []
    assert [entry.status for entry in settled] == ["undone"]


def test_undo_of_a_kill_fails_when_pods_are_not_replaced(shop: StandIn, tmp_path: Path) -> None:
    configuration = shop.configuration(tmp_path)
    kf.kill_pods(PAYMENTS, mode="count", count=2, configuration=configuration)
    started = time.monotonic()
    with pytest.raises(kf.PodsNotReplaced, match="only 2 of 4"):
        kf.confirm_pods_replaced(
            PAYMENTS, expected_ready=4, timeout_s=1.0, configuration=configuration
        )
    assert time.monotonic() - started < 30
    assert [e.status for e in Ledger(configuration["gameday_ledger"]).entries()] == ["applied"]


def test_kill_refuses_pods_without_a_controller(shop: StandIn, tmp_path: Path) -> None:
    for pod in shop.state.app_pods("payments"):
        pod["metadata"]["ownerReferences"] = []
    with pytest.raises(BlastRadiusRefused, match="no owning controller"):
        kf.kill_pods(PAYMENTS, configuration=shop.configuration(tmp_path))
    assert deletes(shop) == []
    result = kf.kill_pods(
        PAYMENTS, allow_unmanaged=True, configuration=shop.configuration(tmp_path)
    )
    assert len(result["killed"]) == 1


def test_kill_that_fails_midway_is_reported_and_undone(shop: StandIn, tmp_path: Path) -> None:
    shop.state.replace_deleted = True
    shop.state.fail_deletes_after = 1
    configuration = shop.configuration(tmp_path)
    with pytest.raises(FaultNotApplied, match="HTTP 500"):
        kf.kill_pods(PAYMENTS, mode="all", configuration=configuration)
    (entry,) = Ledger(configuration["gameday_ledger"]).entries()
    assert entry.status == "undone"


def test_kill_with_no_matching_pod_is_target_not_found(shop: StandIn, tmp_path: Path) -> None:
    with pytest.raises(TargetNotFound, match="no running pod"):
        kf.kill_pods("app.kubernetes.io/name=nope", configuration=shop.configuration(tmp_path))


# -- scaling ------------------------------------------------------------------------------


def test_scale_patches_the_scale_subresource_and_undo_restores_it(
    shop: StandIn, tmp_path: Path
) -> None:
    configuration = shop.configuration(tmp_path)
    result = kf.scale_deployment("orders", 0, configuration=configuration)
    assert (result["previous_replicas"], result["replicas"]) == (2, 0)

    read, patch = shop.state.requests
    scale_path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/orders/scale"
    assert (read.method, read.path) == ("GET", scale_path)
    assert (patch.method, patch.path) == ("PATCH", scale_path)
    assert patch.headers["content-type"] == "application/merge-patch+json"
    assert patch.body == {"spec": {"replicas": 0}}
    assert shop.state.deployments["orders"]["spec"]["replicas"] == 0
    assert shop.state.app_pods("orders") == []

    settled, failures = undo_outstanding(Ledger(configuration["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    assert shop.state.requests[-1].body == {"spec": {"replicas": 2}}
    assert shop.state.deployments["orders"]["spec"]["replicas"] == 2
    assert len(shop.state.app_pods("orders")) == 2


def test_rollback_reaches_the_cluster_of_the_fault_after_the_current_context_changed(
    shop: StandIn, tmp_path: Path
) -> None:
    configuration = shop.configuration(tmp_path)
    kf.scale_deployment("orders", 0, configuration=configuration)
    # Someone switches kubectl to another cluster before `gameday rollback` runs.
    kubeconfig = json.loads(shop.kubeconfig.read_text())
    kubeconfig["clusters"].append({"name": "other", "cluster": {"server": "http://127.0.0.1:9"}})
    kubeconfig["contexts"].append(
        {"name": "other", "context": {"cluster": "other", "user": "runner"}}
    )
    kubeconfig["current-context"] = "other"
    shop.kubeconfig.write_text(json.dumps(kubeconfig))

    settled, failures = undo_outstanding(Ledger(configuration["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    assert shop.state.deployments["orders"]["spec"]["replicas"] == 2


def test_restoring_an_inner_scale_leaves_the_outer_undo_outstanding(
    shop: StandIn, tmp_path: Path
) -> None:
    configuration = shop.configuration(tmp_path)
    kf.scale_deployment("payments", 2, configuration=configuration)
    kf.scale_deployment("payments", 0, configuration=configuration)
    kf.restore_scale("payments", 2, configuration=configuration)
    ledger = Ledger(configuration["gameday_ledger"])
    (outstanding,) = ledger.outstanding()
    assert outstanding.undo.arguments["replicas"] == 4
    undo_outstanding(ledger)
    assert shop.state.deployments["payments"]["spec"]["replicas"] == 4
    assert ledger.outstanding() == []


def test_scale_of_a_missing_deployment_is_target_not_found(shop: StandIn, tmp_path: Path) -> None:
    with pytest.raises(TargetNotFound, match="no deployment 'nope'"):
        kf.scale_deployment("nope", 1, configuration=shop.configuration(tmp_path))
    assert shop.state.mutating() == []
    assert not (tmp_path / "ledger.jsonl").exists()


# -- partitions ---------------------------------------------------------------------------


def _expected_policy(name: str, isolated: str, denied: str, fault_id: str) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/managed-by": "chaos-gameday",
                "chaos-gameday.dev/fault-id": fault_id,
            },
        },
        "spec": {
            "podSelector": {
                "matchExpressions": [
                    {"key": "app.kubernetes.io/name", "operator": "In", "values": [isolated]}
                ]
            },
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "podSelector": {
                                "matchExpressions": [
                                    {
                                        "key": "app.kubernetes.io/name",
                                        "operator": "NotIn",
                                        "values": [denied],
                                    }
                                ]
                            }
                        },
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/metadata.name",
                                        "operator": "NotIn",
                                        "values": [NAMESPACE],
                                    }
                                ]
                            }
                        },
                    ]
                }
            ],
        },
    }


def test_partition_creates_deny_policies_both_ways_and_undo_deletes_them(
    shop: StandIn, tmp_path: Path
) -> None:
    configuration = shop.configuration(tmp_path)
    result = kf.partition(ORDERS, PAYMENTS, configuration=configuration)
    posts = [r for r in shop.state.requests if r.method == "POST"]
    assert [r.path for r in posts] == [
        f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies"
    ] * 2
    inbound, outbound = result["policies"]
    fault_id = inbound.split("-")[2]
    assert posts[0].body == _expected_policy(inbound, "payments", "orders", fault_id)
    assert posts[1].body == _expected_policy(outbound, "orders", "payments", fault_id)
    assert set(shop.state.policies) == {inbound, outbound}

    settled, failures = undo_outstanding(Ledger(configuration["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    assert [(r.method, r.path.rsplit("/", 1)[1]) for r in deletes(shop)] == [
        ("DELETE", inbound),
        ("DELETE", outbound),
    ]
    assert shop.state.policies == {}
    again = kf.remove_partition(policies=[inbound, outbound], configuration=configuration)
    assert again["deleted"] == []  # idempotent: already gone is fine


def test_one_way_partition_creates_one_policy(shop: StandIn, tmp_path: Path) -> None:
    result = kf.partition(
        ORDERS, PAYMENTS, direction="one-way", configuration=shop.configuration(tmp_path)
    )
    assert len(result["policies"]) == 1 and result["policies"][0].endswith("-in")


def test_remove_partition_without_names_deletes_only_our_policies(
    shop: StandIn, tmp_path: Path
) -> None:
    configuration = shop.configuration(tmp_path)
    theirs = _expected_policy("allow-dns", "orders", "x", "0")
    theirs["metadata"]["labels"] = {"team": "platform"}
    shop.state.policies["allow-dns"] = theirs
    ours = kf.partition(ORDERS, PAYMENTS, configuration=configuration)["policies"]
    result = kf.remove_partition(configuration=configuration)
    assert sorted(result["deleted"]) == sorted(ours)
    assert list(shop.state.policies) == ["allow-dns"]
    listing = [r for r in shop.state.requests if r.method == "GET" and "networkpolicies" in r.path]
    assert listing[0].query == {
        "labelSelector": ["app.kubernetes.io/managed-by=chaos-gameday,chaos-gameday.dev/fault-id"]
    }
    with pytest.raises(InvalidFaultArgument, match="not created by a partition"):
        kf.remove_partition(policies=["allow-dns"], configuration=configuration)
    assert "allow-dns" in shop.state.policies


def test_partition_with_a_set_selector_negates_each_requirement(
    shop: StandIn, tmp_path: Path
) -> None:
    result = kf.partition(
        "app.kubernetes.io/name in (orders),app.kubernetes.io/part-of",
        PAYMENTS,
        direction="one-way",
        dry_run=True,
        configuration=shop.configuration(tmp_path),
    )
    peers = result["policies"][0]["spec"]["ingress"][0]["from"]
    assert [p["podSelector"]["matchExpressions"] for p in peers[:2]] == [
        [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["orders"]}],
        [{"key": "app.kubernetes.io/part-of", "operator": "DoesNotExist"}],
    ]


# -- dry run ------------------------------------------------------------------------------


def test_dry_run_lists_what_would_be_touched_and_mutates_nothing(
    shop: StandIn, tmp_path: Path
) -> None:
    configuration = shop.configuration(tmp_path)
    kill = kf.kill_pods(
        PAYMENTS, mode="count", count=2, seed=3, dry_run=True, configuration=configuration
    )
    assert kill["dry_run"] is True
    assert len(kill["would_delete"]) == 2
    assert set(kill["would_delete"]) <= set(kill["matched"]) and len(kill["matched"]) == 4
    part = kf.partition(ORDERS, PAYMENTS, dry_run=True, configuration=configuration)
    assert len(part["would_create"]) == 2 and len(part["to_pods"]) == 4
    scale = kf.scale_deployment(
        "orders", 0, configuration={**configuration, "gameday_dry_run": True}
    )
    assert (scale["from_replicas"], scale["to_replicas"]) == (2, 0)

    assert shop.state.mutating() == []
    assert {r.method for r in shop.state.requests} == {"GET"}
    assert not (tmp_path / "ledger.jsonl").exists()
    assert len(shop.state.app_pods("payments")) == 4 and shop.state.policies == {}


# -- blast radius -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "extra", "message"),
    [
        ("default", {}, "not in the experiment's allow-list"),
        (NAMESPACE, {"k8s_namespaces": []}, "no namespaces are allow-listed"),
        ("kube-system", {"k8s_namespaces": ["kube-system"]}, "belongs to the cluster"),
        ("kube-public", {"k8s_namespaces": ["kube-public"]}, "belongs to the cluster"),
        ("kube-node-lease", {"k8s_namespaces": ["kube-node-lease"]}, "belongs to the cluster"),
    ],
)
def test_faults_outside_the_allowed_namespaces_are_refused_without_any_request(
    shop: StandIn, tmp_path: Path, namespace: str, extra: dict, message: str
) -> None:
    configuration = shop.configuration(tmp_path, **extra)
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.kill_pods(PAYMENTS, namespace=namespace, configuration=configuration)
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.scale_deployment("orders", 0, namespace=namespace, configuration=configuration)
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.partition(ORDERS, PAYMENTS, namespace=namespace, configuration=configuration)
    assert shop.state.requests == []


def test_system_namespace_override_lets_the_fault_reach_the_api(
    shop: StandIn, tmp_path: Path
) -> None:
    configuration = shop.configuration(
        tmp_path, k8s_namespaces=["kube-system"], k8s_allow_system_namespaces=True
    )
    with pytest.raises(TargetNotFound):  # the stand-in has no pods there
        kf.kill_pods("k8s-app=kube-dns", namespace="kube-system", configuration=configuration)
    assert shop.state.requests[0].path == "/api/v1/namespaces/kube-system/pods"


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("", "empty label selector"),
        ("   ", "empty label selector"),
        ({}, "empty label selector"),
        ("app!=payments", "only excludes"),
        ("!app,tier notin (db)", "only excludes"),
        ("app=payments,", "empty requirement"),
        ("app in ()", "has no values"),
        ("app=(x", "cannot parse"),
    ],
)
def test_empty_or_unbounded_selectors_are_refused(
    shop: StandIn, tmp_path: Path, selector: object, message: str
) -> None:
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.kill_pods(selector, configuration=shop.configuration(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.partition(selector, PAYMENTS, configuration=shop.configuration(tmp_path))  # type: ignore[arg-type]
    assert shop.state.requests == []


def test_a_mapping_selector_is_sent_as_an_equality_selector(shop: StandIn, tmp_path: Path) -> None:
    kf.kill_pods(
        {"app.kubernetes.io/name": "payments", "pod-template-hash": "7d9c6b5f4"},
        dry_run=True,
        configuration=shop.configuration(tmp_path),
    )
    assert shop.state.requests[0].query == {
        "labelSelector": ["app.kubernetes.io/name=payments,pod-template-hash=7d9c6b5f4"]
    }


# -- timeouts -----------------------------------------------------------------------------


def test_a_silent_api_server_times_out_instead_of_hanging(
    silent_server: Path, tmp_path: Path
) -> None:
    configuration = {
        "k8s_kubeconfig": str(silent_server),
        "k8s_namespaces": [NAMESPACE],
        "k8s_request_timeout_s": 0.5,
        "gameday_ledger": str(tmp_path / "ledger.jsonl"),
    }
    for call in (
        lambda: kf.kill_pods(PAYMENTS, configuration=configuration),
        lambda: kf.scale_deployment("orders", 0, configuration=configuration),
        lambda: kf.partition(ORDERS, PAYMENTS, configuration=configuration),
        lambda: kf.restore_scale("orders", 2, configuration=configuration),
        lambda: kf.remove_partition(
            policies=["gameday-partition-x-in"], configuration=configuration
        ),
    ):
        started = time.monotonic()
        with pytest.raises(KubernetesUnreachable, match="did not answer within 0.5 s"):
            call()
        assert time.monotonic() - started < 15


def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KubernetesUnreachable, match="does not exist"):
        kf.kill_pods(
            PAYMENTS,
            configuration={"k8s_kubeconfig": str(tmp_path / "nope"), "k8s_namespaces": [NAMESPACE]},
        )
