"""Kubernetes faults against the real control plane, as the shipped gameday-runner
ServiceAccount: the requests are read back from the API server's audit log, the effects
(ReplicaSet replacements, NetworkPolicies, scale) from the API itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.faults import kubernetes as kf
from chaos.faults.errors import FaultNotApplied, InvalidFaultArgument, TargetNotFound
from chaos.k8s.errors import KubernetesForbidden, KubernetesUnreachable
from chaos.safety.k8s_scope import BlastRadiusRefused
from chaos.safety.ledger import Ledger, undo_outstanding
from tests.k8s.controlplane.lab import LabNamespace, request_query

PAYMENTS = "app.kubernetes.io/name=payments"
ORDERS = "app.kubernetes.io/name=orders"
MUTATING = {"create", "update", "patch", "delete", "deletecollection"}


@pytest.fixture
def shop(lab_namespace: LabNamespace) -> LabNamespace:
    lab_namespace.deploy("payments", 4)
    lab_namespace.deploy("orders", 2)
    return lab_namespace


def configuration(lab: LabNamespace, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return lab.configuration(gameday_ledger=str(tmp_path / "ledger.jsonl"), **extra)


def calls(events: list[dict]) -> list[tuple[str, str, str | None]]:
    """(verb, resource[/subresource], name) of each audited request."""
    return [
        (
            e["verb"],
            "/".join(filter(None, (e["objectRef"]["resource"], e["objectRef"].get("subresource")))),
            e["objectRef"].get("name"),
        )
        for e in events
    ]


def mutations(events: list[dict]) -> list[dict]:
    return [e for e in events if e["verb"] in MUTATING]


def live(lab: LabNamespace, app: str) -> list[dict]:
    return [p for p in lab.pods(app) if not p["metadata"].get("deletionTimestamp")]


def ready_replacements(lab: LabNamespace, app: str, killed: list[str], want: int) -> bool:
    pods = live(lab, app)
    names = {p["metadata"]["name"] for p in pods}
    ready = [
        p
        for p in pods
        # A replacement just created has no conditions until it is scheduled.
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions") or []
        )
    ]
    return len(ready) == want and names.isdisjoint(killed)


# -- pod kills ----------------------------------------------------------------------------


def test_kill_one_deletes_one_pod_with_grace_zero_and_the_replicaset_replaces_it(
    shop: LabNamespace, tmp_path: Path
) -> None:
    orders_before = shop.pod_names("orders")
    since = time.time()
    result = kf.kill_pods(
        PAYMENTS, namespace=shop.name, configuration=configuration(shop, tmp_path)
    )

    (victim,) = result["killed"]
    listing, delete = shop.runner_requests(since)
    assert calls([listing, delete]) == [("list", "pods", None), ("delete", "pods", victim)]
    assert request_query(listing)["labelSelector"] == [PAYMENTS]
    assert request_query(delete)["gracePeriodSeconds"] == ["0"]
    assert delete["responseStatus"]["code"] == 200
    # The ReplicaSet controller creates a replacement; the node agent runs it.
    shop.wait_for(
        lambda: ready_replacements(shop, "payments", [victim], 4),
        30,
        "the payments ReplicaSet to replace the killed pod",
    )
    assert shop.pod_names("orders") == orders_before  # outside the selector: untouched


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
    shop: LabNamespace, tmp_path: Path, mode: str, extra: dict, expected: int
) -> None:
    before = shop.pod_names("payments")
    since = time.time()
    result = kf.kill_pods(
        PAYMENTS,
        mode=mode,
        namespace=shop.name,
        configuration=configuration(shop, tmp_path),
        **extra,
    )
    assert len(result["killed"]) == expected
    assert set(result["killed"]) <= set(before)
    deleted = [name for verb, _, name in calls(mutations(shop.runner_requests(since)))]
    assert sorted(deleted) == sorted(result["killed"])
    shop.wait_for(
        lambda: ready_replacements(shop, "payments", result["killed"], 4),
        30,
        f"{expected} replacement pod(s)",
    )


def test_kill_passes_a_custom_grace_period_and_the_node_finishes_the_deletion(
    shop: LabNamespace, tmp_path: Path
) -> None:
    since = time.time()
    result = kf.kill_pods(
        PAYMENTS,
        grace_period_seconds=7,
        namespace=shop.name,
        configuration=configuration(shop, tmp_path),
    )
    (delete,) = mutations(shop.runner_requests(since))
    assert request_query(delete)["gracePeriodSeconds"] == ["7"]
    shop.wait_for(
        lambda: result["killed"][0] not in shop.pod_names("payments"),
        30,
        "the node to finish the graceful deletion",
    )


@pytest.mark.parametrize(
    "args",
    [{"mode": "count"}, {"mode": "percent", "percent": 0}, {"mode": "some"}],
)
def test_kill_rejects_bad_mode_arguments_before_deleting(
    shop: LabNamespace, tmp_path: Path, args: dict
) -> None:
    since = time.time()
    with pytest.raises(InvalidFaultArgument):
        kf.kill_pods(
            PAYMENTS, namespace=shop.name, configuration=configuration(shop, tmp_path), **args
        )
    assert mutations(shop.runner_requests(since)) == []
    assert len(live(shop, "payments")) == 4


def test_kill_writes_the_ledger_intent_before_deleting_and_undo_confirms_replacement(
    shop: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(shop, tmp_path)
    result = kf.kill_pods(PAYMENTS, mode="all", namespace=shop.name, configuration=config)

    ledger = Ledger(config["gameday_ledger"])
    intent, applied = ledger.history()
    assert (intent.status, applied.status) == ("intent", "applied")
    assert intent.undo.func == "confirm_pods_replaced"
    assert intent.undo.arguments["expected_ready"] == 4
    assert intent.undo.arguments["cluster"]["k8s_kubeconfig"] == str(shop.kubeconfig.resolve())

    settled, failures = undo_outstanding(ledger)  # what `gameday rollback` does
    assert failures == []
    assert [entry.status for entry in settled] == ["undone"]
    # The undo returned only once the ReplicaSet had four ready pods again, none killed.
    assert ready_replacements(shop, "payments", result["killed"], 4)


def test_undo_of_a_kill_fails_when_pods_are_not_replaced(
    shop: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(shop, tmp_path)
    kf.kill_pods(PAYMENTS, mode="count", count=2, namespace=shop.name, configuration=config)
    # Someone scales the deployment down meanwhile: only 2 pods will ever be ready.
    shop.plane.kubectl("scale", "-n", shop.name, "deployment/payments", "--replicas=2")
    shop.wait_available("payments", 2)
    started = time.monotonic()
    with pytest.raises(kf.PodsNotReplaced, match="only 2 of 4"):
        kf.confirm_pods_replaced(
            PAYMENTS, expected_ready=4, timeout_s=3.0, namespace=shop.name, configuration=config
        )
    assert time.monotonic() - started < 30
    assert [e.status for e in Ledger(config["gameday_ledger"]).entries()] == ["applied"]


def test_kill_refuses_pods_without_a_controller(
    lab_namespace: LabNamespace, tmp_path: Path
) -> None:
    lab = lab_namespace
    lab.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"loner-{i}", "labels": {"app.kubernetes.io/name": "loner"}},
                "spec": {"containers": [{"name": "app", "image": "gameday-shop:lab"}]},
            }
            for i in range(2)
        ]
    )
    lab.wait_for(
        lambda: (
            len(lab.pods("loner")) == 2
            and all(p["status"].get("phase") == "Running" for p in lab.pods("loner"))
        ),
        30,
        "two running pods without a controller",
    )
    config = configuration(lab, tmp_path)
    since = time.time()
    with pytest.raises(BlastRadiusRefused, match="no owning controller"):
        kf.kill_pods("app.kubernetes.io/name=loner", namespace=lab.name, configuration=config)
    assert mutations(lab.runner_requests(since)) == []
    result = kf.kill_pods(
        "app.kubernetes.io/name=loner",
        allow_unmanaged=True,
        namespace=lab.name,
        configuration=config,
    )
    assert len(result["killed"]) == 1
    # Nothing replaces it.
    lab.wait_for(lambda: len(lab.pods("loner")) == 1, 30, "the killed loner pod to be gone")


def test_kill_that_fails_midway_is_reported_and_undone(shop: LabNamespace, tmp_path: Path) -> None:
    # The runner may delete only the first pod it will pick: its second delete is refused.
    first = shop.pod_names("payments")[0]
    role = yaml.safe_load(
        shop.plane.kubectl("get", "role", "-n", shop.name, "gameday-runner", "-o", "yaml").stdout
    )
    for rule in role["rules"]:
        if rule["resources"] == ["pods"] and "delete" in rule["verbs"]:
            rule["verbs"].remove("delete")
    role["rules"].append(
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"], "resourceNames": [first]}
    )
    shop.apply(role)
    config = configuration(shop, tmp_path)
    with pytest.raises(FaultNotApplied, match="failed and was undone.*refused to delete pods"):
        kf.kill_pods(PAYMENTS, mode="all", namespace=shop.name, configuration=config)
    (entry,) = Ledger(config["gameday_ledger"]).entries()
    assert entry.status == "undone"  # the one killed pod was replaced
    assert first not in shop.pod_names("payments")


def test_kill_with_no_matching_pod_is_target_not_found(shop: LabNamespace, tmp_path: Path) -> None:
    with pytest.raises(TargetNotFound, match="no running pod"):
        kf.kill_pods(
            "app.kubernetes.io/name=nope",
            namespace=shop.name,
            configuration=configuration(shop, tmp_path),
        )


# -- scaling ------------------------------------------------------------------------------


def test_scale_patches_the_scale_subresource_and_undo_restores_it(
    shop: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(shop, tmp_path)
    since = time.time()
    result = kf.scale_deployment("orders", 0, namespace=shop.name, configuration=config)
    assert (result["previous_replicas"], result["replicas"]) == (2, 0)

    read, patch = shop.runner_requests(since)
    assert calls([read, patch]) == [
        ("get", "deployments/scale", "orders"),
        ("patch", "deployments/scale", "orders"),
    ]
    assert patch["responseStatus"]["code"] == 200
    assert shop.deployment("orders")["spec"]["replicas"] == 0
    shop.wait_for(lambda: shop.pods("orders") == [], 30, "the orders pods to be removed")

    settled, failures = undo_outstanding(Ledger(config["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    assert shop.deployment("orders")["spec"]["replicas"] == 2
    shop.wait_available("orders", 2)


def test_rollback_reaches_the_cluster_of_the_fault_after_the_current_context_changed(
    shop: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(shop, tmp_path)
    kf.scale_deployment("orders", 0, namespace=shop.name, configuration=config)
    # Someone switches kubectl to another cluster before `gameday rollback` runs.
    kubeconfig = yaml.safe_load(shop.kubeconfig.read_text())
    kubeconfig["clusters"].append({"name": "other", "cluster": {"server": "https://127.0.0.1:9"}})
    kubeconfig["contexts"].append(
        {"name": "other", "context": {"cluster": "other", "user": "user"}}
    )
    kubeconfig["current-context"] = "other"
    shop.kubeconfig.write_text(yaml.safe_dump(kubeconfig))

    settled, failures = undo_outstanding(Ledger(config["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    assert shop.deployment("orders")["spec"]["replicas"] == 2


def test_restoring_an_inner_scale_leaves_the_outer_undo_outstanding(
    shop: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(shop, tmp_path)
    kf.scale_deployment("payments", 2, namespace=shop.name, configuration=config)
    kf.scale_deployment("payments", 0, namespace=shop.name, configuration=config)
    kf.restore_scale("payments", 2, namespace=shop.name, configuration=config)
    ledger = Ledger(config["gameday_ledger"])
    (outstanding,) = ledger.outstanding()
    assert outstanding.undo.arguments["replicas"] == 4
    undo_outstanding(ledger)
    assert shop.deployment("payments")["spec"]["replicas"] == 4
    assert ledger.outstanding() == []


def test_scale_of_a_missing_deployment_is_target_not_found(
    shop: LabNamespace, tmp_path: Path
) -> None:
    since = time.time()
    with pytest.raises(TargetNotFound, match="no deployment 'nope'"):
        kf.scale_deployment(
            "nope", 1, namespace=shop.name, configuration=configuration(shop, tmp_path)
        )
    assert mutations(shop.runner_requests(since)) == []
    assert not (tmp_path / "ledger.jsonl").exists()


# -- partitions ---------------------------------------------------------------------------


def _expected_spec(isolated: str, denied: str, namespace: str) -> dict:
    return {
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
                                    "values": [namespace],
                                }
                            ]
                        }
                    },
                ]
            }
        ],
    }


def policies(lab: LabNamespace) -> dict[str, dict]:
    listing = lab.plane.admin.networking.list_namespaced_network_policy(lab.name)
    return {p["metadata"]["name"]: p for p in lab.plane.admin.as_dicts(listing.items)}


def test_partition_creates_valid_deny_policies_both_ways_and_undo_deletes_them(
    shop: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(shop, tmp_path)
    since = time.time()
    result = kf.partition(ORDERS, PAYMENTS, namespace=shop.name, configuration=config)
    inbound, outbound = result["policies"]
    created = mutations(shop.runner_requests(since))
    assert calls(created) == [
        ("create", "networkpolicies", inbound),
        ("create", "networkpolicies", outbound),
    ]
    assert all(e["responseStatus"]["code"] == 201 for e in created)  # server-side validated
    stored = policies(shop)
    assert set(stored) == {inbound, outbound}
    fault_id = inbound.split("-")[2]
    for name, isolated, denied in (
        (inbound, "payments", "orders"),
        (outbound, "orders", "payments"),
    ):
        assert stored[name]["spec"] == _expected_spec(isolated, denied, shop.name)
        assert stored[name]["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "chaos-gameday",
            "chaos-gameday.dev/fault-id": fault_id,
        }

    since = time.time()
    settled, failures = undo_outstanding(Ledger(config["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    assert calls(mutations(shop.runner_requests(since))) == [
        ("delete", "networkpolicies", inbound),
        ("delete", "networkpolicies", outbound),
    ]
    assert policies(shop) == {}
    again = kf.remove_partition(
        policies=[inbound, outbound], namespace=shop.name, configuration=config
    )
    assert again["deleted"] == []  # idempotent: already gone is fine


def test_one_way_partition_creates_one_policy(shop: LabNamespace, tmp_path: Path) -> None:
    result = kf.partition(
        ORDERS,
        PAYMENTS,
        direction="one-way",
        namespace=shop.name,
        configuration=configuration(shop, tmp_path),
    )
    assert len(result["policies"]) == 1 and result["policies"][0].endswith("-in")
    assert list(policies(shop)) == result["policies"]


def test_remove_partition_without_names_deletes_only_our_policies(
    shop: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(shop, tmp_path)
    shop.apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-dns", "labels": {"team": "platform"}},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
        }
    )
    ours = kf.partition(ORDERS, PAYMENTS, namespace=shop.name, configuration=config)["policies"]
    since = time.time()
    result = kf.remove_partition(namespace=shop.name, configuration=config)
    assert sorted(result["deleted"]) == sorted(ours)
    assert list(policies(shop)) == ["allow-dns"]
    listing = shop.runner_requests(since)[0]
    assert listing["verb"] == "list"
    assert request_query(listing)["labelSelector"] == [
        "app.kubernetes.io/managed-by=chaos-gameday,chaos-gameday.dev/fault-id"
    ]
    with pytest.raises(InvalidFaultArgument, match="not created by a partition"):
        kf.remove_partition(policies=["allow-dns"], namespace=shop.name, configuration=config)
    assert "allow-dns" in policies(shop)


def test_partition_with_a_set_selector_negates_each_requirement(
    shop: LabNamespace, tmp_path: Path
) -> None:
    result = kf.partition(
        "app.kubernetes.io/name in (orders),app.kubernetes.io/part-of",
        PAYMENTS,
        direction="one-way",
        dry_run=True,
        namespace=shop.name,
        configuration=configuration(shop, tmp_path),
    )
    peers = result["policies"][0]["spec"]["ingress"][0]["from"]
    assert [p["podSelector"]["matchExpressions"] for p in peers[:2]] == [
        [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["orders"]}],
        [{"key": "app.kubernetes.io/part-of", "operator": "DoesNotExist"}],
    ]
    # What the dry run shows is what the server accepts: a server-side dry-run create.
    shop.plane.kubectl(
        "create", "--dry-run=server", "-n", shop.name, "-f", "-",
        input=yaml.safe_dump(result["policies"][0]),
    )  # fmt: skip


# -- dry run ------------------------------------------------------------------------------


def test_dry_run_lists_what_would_be_touched_and_mutates_nothing(
    shop: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(shop, tmp_path)
    before = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in shop.pods()}
    since = time.time()
    kill = kf.kill_pods(
        PAYMENTS,
        mode="count",
        count=2,
        seed=3,
        dry_run=True,
        namespace=shop.name,
        configuration=config,
    )
    assert kill["dry_run"] is True
    assert len(kill["would_delete"]) == 2
    assert set(kill["would_delete"]) <= set(kill["matched"]) and len(kill["matched"]) == 4
    part = kf.partition(ORDERS, PAYMENTS, dry_run=True, namespace=shop.name, configuration=config)
    assert len(part["would_create"]) == 2 and len(part["to_pods"]) == 4
    scale = kf.scale_deployment(
        "orders", 0, namespace=shop.name, configuration={**config, "gameday_dry_run": True}
    )
    assert (scale["from_replicas"], scale["to_replicas"]) == (2, 0)

    events = shop.runner_requests(since)
    assert events and {e["verb"] for e in events} <= {"get", "list"}
    assert not (tmp_path / "ledger.jsonl").exists()
    after = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in shop.pods()}
    assert after == before and policies(shop) == {}
    assert shop.deployment("orders")["spec"]["replicas"] == 2


# -- blast radius -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "extra", "message"),
    [
        ("default", {}, "not in the experiment's allow-list"),
        (None, {"k8s_namespaces": []}, "no namespaces are allow-listed"),
        ("kube-system", {"k8s_namespaces": ["kube-system"]}, "belongs to the cluster"),
        ("kube-public", {"k8s_namespaces": ["kube-public"]}, "belongs to the cluster"),
        ("kube-node-lease", {"k8s_namespaces": ["kube-node-lease"]}, "belongs to the cluster"),
    ],
)
def test_faults_outside_the_allowed_namespaces_are_refused_without_any_request(
    lab_namespace: LabNamespace,
    tmp_path: Path,
    namespace: str | None,
    extra: dict,
    message: str,
) -> None:
    lab = lab_namespace
    namespace = namespace or lab.name
    config = configuration(lab, tmp_path, **extra)
    since = time.time()
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.kill_pods(PAYMENTS, namespace=namespace, configuration=config)
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.scale_deployment("orders", 0, namespace=namespace, configuration=config)
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.partition(ORDERS, PAYMENTS, namespace=namespace, configuration=config)
    assert lab.runner_requests(since) == []


def test_system_namespace_override_lets_the_fault_reach_the_api(
    lab_namespace: LabNamespace, tmp_path: Path
) -> None:
    config = configuration(
        lab_namespace, tmp_path, k8s_namespaces=["kube-system"], k8s_allow_system_namespaces=True
    )
    since = time.time()
    with pytest.raises(KubernetesForbidden, match="refused to list pods in namespace kube-system"):
        kf.kill_pods("k8s-app=kube-dns", namespace="kube-system", configuration=config)
    # The request reached the server, which refused it: the runner's Role is namespaced.
    (listing,) = lab_namespace.runner_requests(since)
    assert listing["objectRef"]["namespace"] == "kube-system"
    assert listing["responseStatus"]["code"] == 403


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
    lab_namespace: LabNamespace, tmp_path: Path, selector: object, message: str
) -> None:
    config = configuration(lab_namespace, tmp_path)
    since = time.time()
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.kill_pods(selector, namespace=lab_namespace.name, configuration=config)  # type: ignore[arg-type]
    with pytest.raises(BlastRadiusRefused, match=message):
        kf.partition(selector, PAYMENTS, namespace=lab_namespace.name, configuration=config)  # type: ignore[arg-type]
    assert lab_namespace.runner_requests(since) == []


def test_a_mapping_selector_is_sent_as_an_equality_selector(
    shop: LabNamespace, tmp_path: Path
) -> None:
    since = time.time()
    result = kf.kill_pods(
        {"app.kubernetes.io/name": "payments", "app.kubernetes.io/part-of": "shop"},
        dry_run=True,
        namespace=shop.name,
        configuration=configuration(shop, tmp_path),
    )
    assert len(result["matched"]) == 4
    (listing,) = shop.runner_requests(since)
    assert request_query(listing)["labelSelector"] == [
        "app.kubernetes.io/name=payments,app.kubernetes.io/part-of=shop"
    ]


# -- timeouts -----------------------------------------------------------------------------


def test_a_silent_api_server_times_out_instead_of_hanging(
    silent_kubeconfig: Path, tmp_path: Path
) -> None:
    config = {
        "k8s_kubeconfig": str(silent_kubeconfig),
        "k8s_namespaces": ["gameday-lab"],
        "k8s_request_timeout_s": 0.5,
        "gameday_ledger": str(tmp_path / "ledger.jsonl"),
    }
    for call in (
        lambda: kf.kill_pods(PAYMENTS, configuration=config),
        lambda: kf.scale_deployment("orders", 0, configuration=config),
        lambda: kf.partition(ORDERS, PAYMENTS, configuration=config),
        lambda: kf.restore_scale("orders", 2, configuration=config),
        lambda: kf.remove_partition(policies=["gameday-partition-x-in"], configuration=config),
    ):
        started = time.monotonic()
        with pytest.raises(KubernetesUnreachable, match="did not answer within 0.5 s"):
            call()
        assert time.monotonic() - started < 15


def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KubernetesUnreachable, match="does not exist"):
        kf.kill_pods(
            PAYMENTS,
            configuration={
                "k8s_kubeconfig": str(tmp_path / "nope"),
                "k8s_namespaces": ["gameday-lab"],
            },
        )
