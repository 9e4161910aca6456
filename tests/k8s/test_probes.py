"""Kubernetes probes with the real kubernetes client against the API stand-in."""

from __future__ import annotations

import time
from pathlib import Path

import kubernetes_validate
import pytest
from k8s_standin import NAMESPACE, VERSION, StandIn, make_deployment, make_pod

from chaos.k8s.client import connect
from chaos.probes import kubernetes as kp
from chaos.probes.errors import InvalidProbeArgument, ProbeTargetUnknown, ProbeUnreachable

PAYMENTS = "app.kubernetes.io/name=payments"
SCHEMA_VERSION = "1.33.0"


def test_the_stand_in_serves_objects_valid_against_the_real_schemas() -> None:
    for obj in (make_pod("payments", "a1"), make_deployment("payments", 2)):
        kubernetes_validate.validate(obj, SCHEMA_VERSION, strict=True)


def test_cluster_probes_parse_version_and_namespace(standin: StandIn, tmp_path: Path) -> None:
    configuration = standin.configuration(tmp_path)
    assert kp.api_server_version(configuration=configuration) == VERSION["gitVersion"]
    assert kp.namespace_active(NAMESPACE, configuration=configuration) is True
    assert kp.namespace_active("nope", configuration=configuration) is False
    assert [(r.method, r.path) for r in standin.state.requests] == [
        ("GET", "/version/"),
        ("GET", f"/api/v1/namespaces/{NAMESPACE}"),
        ("GET", "/api/v1/namespaces/nope"),
    ]
    with connect(configuration) as api:
        assert api.version().emulation_minor == "33"


def test_ready_pod_counts_ignore_unready_and_terminating_pods(
    standin: StandIn, tmp_path: Path
) -> None:
    standin.state.add_app("payments", 3)
    standin.state._new_pod("payments", ready=False)
    terminating = standin.state._new_pod("payments")
    terminating["metadata"]["deletionTimestamp"] = "2026-11-27T02:06:00Z"
    configuration = standin.configuration(tmp_path)
    assert kp.count_ready_pods(PAYMENTS, configuration=configuration) == 3
    assert kp.all_pods_ready(PAYMENTS, configuration=configuration) is False
    assert standin.state.requests[0].query == {"labelSelector": [PAYMENTS]}


def test_all_pods_ready_needs_at_least_min_count(standin: StandIn, tmp_path: Path) -> None:
    standin.state.add_app("payments", 2)
    configuration = standin.configuration(tmp_path)
    assert kp.all_pods_ready(PAYMENTS, min_count=2, configuration=configuration) is True
    assert kp.all_pods_ready(PAYMENTS, min_count=3, configuration=configuration) is False


def test_deployment_available_replicas_follows_the_status(standin: StandIn, tmp_path: Path) -> None:
    standin.state.add_app("orders", 3)
    configuration = standin.configuration(tmp_path)
    assert kp.deployment_available_replicas("orders", configuration=configuration) == 3
    standin.state.scale_to("orders", 0)
    assert kp.deployment_available_replicas("orders", configuration=configuration) == 0
    request = standin.state.requests[-1]
    assert (request.method, request.path) == (
        "GET",
        f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/orders",
    )


def test_probe_errors_are_typed(standin: StandIn, silent_server: Path, tmp_path: Path) -> None:
    configuration = standin.configuration(tmp_path)
    with pytest.raises(ProbeTargetUnknown, match="no deployment 'nope'"):
        kp.deployment_available_replicas("nope", configuration=configuration)
    with pytest.raises(InvalidProbeArgument, match="empty label selector"):
        kp.count_ready_pods("", configuration=configuration)
    silent = {"k8s_kubeconfig": str(silent_server), "k8s_request_timeout_s": 0.5}
    started = time.monotonic()
    with pytest.raises(ProbeUnreachable):
        kp.count_ready_pods(PAYMENTS, configuration=silent)
    with pytest.raises(ProbeUnreachable):
        kp.deployment_available_replicas("orders", configuration=silent)
    assert time.monotonic() - started < 20
