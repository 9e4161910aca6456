"""`seconds_until_pods_ready`, the Kubernetes twin of the mesh's `seconds_until_ready`,
against the real control plane: replacements come from the ReplicaSet controller."""

from __future__ import annotations

import time

import pytest

from chaos.probes.errors import InvalidProbeArgument, NotReady
from chaos.probes.kubernetes_recovery import seconds_until_pods_ready
from tests.k8s.controlplane.lab import LabNamespace

PAYMENTS = "app.kubernetes.io/name=payments"


def report_unready(lab: LabNamespace, pod: str) -> None:
    """What a kubelet reports when the pod's readiness probe fails."""
    lab.plane.admin.core.patch_namespaced_pod_status(
        pod,
        lab.name,
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        _content_type="application/strategic-merge-patch+json",
    )


def test_returns_the_seconds_until_the_killed_pods_are_replaced(
    lab_namespace: LabNamespace,
) -> None:
    lab = lab_namespace
    lab.deploy("payments", 2)
    killed = lab.pod_names("payments")
    lab.plane.kubectl(
        "delete", "pod", "-n", lab.name, *killed, "--grace-period=0", "--force", "--wait=false"
    )
    seconds = seconds_until_pods_ready(
        PAYMENTS, namespace=lab.name, timeout_s=30, poll_s=0.1, configuration=lab.configuration()
    )
    assert 0 < seconds < 30
    # It returned only once the ReplicaSet's replacements were ready.
    pods = lab.pods("payments")
    assert len(pods) == 2 and set(killed).isdisjoint(p["metadata"]["name"] for p in pods)


def test_not_ready_in_time_raises_not_ready(lab_namespace: LabNamespace) -> None:
    lab = lab_namespace
    lab.deploy("payments", 2)
    for pod in lab.pod_names("payments"):
        report_unready(lab, pod)
    started = time.monotonic()
    with pytest.raises(NotReady, match="0 of 2 pods ready"):
        seconds_until_pods_ready(
            PAYMENTS,
            namespace=lab.name,
            timeout_s=0.5,
            poll_s=0.1,
            configuration=lab.configuration(),
        )
    assert time.monotonic() - started >= 0.5


def test_min_ready_is_enough_where_all_would_wait(lab_namespace: LabNamespace) -> None:
    lab = lab_namespace
    lab.deploy("payments", 2)
    report_unready(lab, lab.pod_names("payments")[1])
    config = lab.configuration()
    assert seconds_until_pods_ready(PAYMENTS, lab.name, min_ready=1, configuration=config) < 5
    with pytest.raises(NotReady, match="1 of 2 pods ready"):
        seconds_until_pods_ready(
            PAYMENTS, lab.name, timeout_s=0.3, poll_s=0.1, configuration=config
        )
    with pytest.raises(InvalidProbeArgument):
        seconds_until_pods_ready(PAYMENTS, lab.name, min_ready=0, configuration=config)
