"""Kubernetes probes against the real control plane, as the shipped gameday-runner."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chaos.k8s.client import connect
from chaos.probes import kubernetes as kp
from chaos.probes.errors import InvalidProbeArgument, ProbeTargetUnknown, ProbeUnreachable
from tests.k8s.controlplane.lab import LabNamespace

PAYMENTS = "app.kubernetes.io/name=payments"


def test_cluster_probes_read_version_and_namespace(lab_namespace: LabNamespace) -> None:
    config = lab_namespace.configuration()
    assert kp.api_server_version(configuration=config) == "v1.20.2"
    assert kp.namespace_active(lab_namespace.name, configuration=config) is True
    with connect(config) as api:
        assert (api.version().major, api.version().minor) == ("1", "20")


def test_ready_pod_counts_ignore_unready_and_terminating_pods(
    lab_namespace: LabNamespace,
) -> None:
    lab = lab_namespace
    lab.deploy("payments", 3)
    config = lab.configuration()
    assert kp.count_ready_pods(PAYMENTS, namespace=lab.name, configuration=config) == 3
    assert kp.all_pods_ready(PAYMENTS, namespace=lab.name, configuration=config) is True
    # A pod the node reports not ready (as a failing readiness probe would).
    unready = lab.pod_names("payments")[0]
    lab.plane.admin.core.patch_namespaced_pod_status(
        unready,
        lab.name,
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        _content_type="application/strategic-merge-patch+json",
    )
    assert kp.count_ready_pods(PAYMENTS, namespace=lab.name, configuration=config) == 2
    assert kp.all_pods_ready(PAYMENTS, namespace=lab.name, configuration=config) is False


def test_all_pods_ready_needs_at_least_min_count(lab_namespace: LabNamespace) -> None:
    lab_namespace.deploy("payments", 2)
    config = lab_namespace.configuration()
    assert (
        kp.all_pods_ready(PAYMENTS, min_count=2, namespace=lab_namespace.name, configuration=config)
        is True
    )
    assert (
        kp.all_pods_ready(PAYMENTS, min_count=3, namespace=lab_namespace.name, configuration=config)
        is False
    )


def test_deployment_available_replicas_follows_the_status(lab_namespace: LabNamespace) -> None:
    lab = lab_namespace
    lab.deploy("orders", 3)
    config = lab.configuration()
    assert kp.deployment_available_replicas("orders", namespace=lab.name, configuration=config) == 3
    lab.plane.kubectl("scale", "-n", lab.name, "deployment/orders", "--replicas=0")
    lab.wait_available("orders", 0)
    assert kp.deployment_available_replicas("orders", namespace=lab.name, configuration=config) == 0


def test_probe_errors_are_typed(
    lab_namespace: LabNamespace, silent_kubeconfig: Path, tmp_path: Path
) -> None:
    config = lab_namespace.configuration()
    with pytest.raises(ProbeTargetUnknown, match="no deployment 'nope'"):
        kp.deployment_available_replicas("nope", namespace=lab_namespace.name, configuration=config)
    with pytest.raises(InvalidProbeArgument, match="empty label selector"):
        kp.count_ready_pods("", namespace=lab_namespace.name, configuration=config)
    silent = {"k8s_kubeconfig": str(silent_kubeconfig), "k8s_request_timeout_s": 0.5}
    started = time.monotonic()
    with pytest.raises(ProbeUnreachable):
        kp.count_ready_pods(PAYMENTS, namespace=lab_namespace.name, configuration=silent)
    with pytest.raises(ProbeUnreachable):
        kp.deployment_available_replicas(
            "orders", namespace=lab_namespace.name, configuration=silent
        )
    assert time.monotonic() - started < 20
