"""seconds_until_pods_ready on a real control plane: recovered means the replicas the
Deployment wants are Ready, not the pods that happen to be alive."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.faults.kubernetes import kill_pods
from chaos.probes.errors import NotReady
from chaos.probes.kubernetes_recovery import desired_and_ready, seconds_until_pods_ready

CATALOG = "app.kubernetes.io/name=catalog"


def test_a_kill_whose_replacement_cannot_exist_yet_is_no_recovery(
    lab_namespace: Any, control_plane: Any, tmp_path: Any
) -> None:
    lab = lab_namespace
    lab.deploy("catalog", 2)
    configuration = lab.configuration(gameday_ledger=str(tmp_path / "ledger.jsonl"))
    # A quota below the pods that exist: the ReplicaSet cannot create the replacement, so
    # the window between a kill and its replacement stays open for as long as we need.
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "pods"},
            "spec": {"hard": {"pods": "1"}},
        }
    )

    def quota_counted() -> bool:
        quota = control_plane.admin.core.read_namespaced_resource_quota(
            "pods", lab.name, _request_timeout=10
        )
        return bool(quota.status and (quota.status.used or {}).get("pods") == "2")

    lab.wait_for(quota_counted, 30, "the quota controller to count the pods")
    killed = kill_pods(CATALOG, namespace=lab.name, configuration=configuration)["killed"]
    lab.wait_for(
        lambda: not set(killed) & set(lab.pod_names("catalog")), 30, "the killed pod to be gone"
    )

    assert desired_and_ready(CATALOG, lab.name, configuration) == (1, 2, ["catalog"])
    with pytest.raises(NotReady, match=r"1 of 2 pods ready .*deployment catalog wants 2"):
        seconds_until_pods_ready(
            CATALOG, namespace=lab.name, timeout_s=2, poll_s=0.2, configuration=configuration
        )

    control_plane.kubectl("delete", "resourcequota", "pods", "-n", lab.name)
    waited = seconds_until_pods_ready(
        CATALOG, namespace=lab.name, timeout_s=90, poll_s=0.2, configuration=configuration
    )
    assert 0 <= waited < 90
    ready, wanted, _ = desired_and_ready(CATALOG, lab.name, configuration)
    assert ready == wanted == 2
    assert not set(killed) & set(lab.pod_names("catalog"))


def test_the_deployments_counted_are_those_whose_pods_the_selector_picks(
    lab_namespace: Any, control_plane: Any
) -> None:
    lab = lab_namespace
    lab.deploy("catalog", 1)
    lab.deploy("orders", 2)
    configuration = lab.configuration()
    assert desired_and_ready(CATALOG, lab.name, configuration) == (1, 1, ["catalog"])
    shop = "app.kubernetes.io/part-of=shop"
    assert desired_and_ready(shop, lab.name, configuration) == (3, 3, ["catalog", "orders"])
    # A pod no Deployment owns: the live pods are what is wanted.
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "solo", "labels": {"app.kubernetes.io/name": "solo"}},
            "spec": {"containers": [{"name": "app", "image": "gameday-shop:lab"}]},
        }
    )
    solo = "app.kubernetes.io/name=solo"
    lab.wait_for(
        lambda: desired_and_ready(solo, lab.name, configuration) == (1, 1, []),
        30,
        "the bare pod to be Ready",
    )
