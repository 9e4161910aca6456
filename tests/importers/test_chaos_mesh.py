"""Chaos Mesh objects (in the shapes of its documented examples) as gameday experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.importers import ManifestError, import_manifest

MANIFESTS = Path(__file__).parent / "manifests"


def _steps(result: Any) -> dict[str, tuple[str, dict[str, Any], dict[str, Any] | None]]:
    return {
        a["name"]: (a["provider"]["func"], a["provider"]["arguments"], a.get("pauses"))
        for a in result.experiment["method"]
    }


def _fields(result: Any) -> dict[str, str]:
    return {item.field: item.reason for item in result.unmapped}


def test_each_kind_becomes_its_fault_on_the_local_mesh() -> None:
    result = import_manifest(MANIFESTS / "chaos-mesh.yaml", "local")

    steps = _steps(result)
    assert steps["pod-kill-catalog"][:2] == (
        "kill_replicas",
        {"service": "catalog", "count": 2, "signal": "SIGKILL"},
    )
    func, arguments, pauses = steps["delay-orders-to-payments"]
    assert func == "add_latency" and pauses == {"after": 20}
    assert arguments["edge"] == "orders->payments"  # selector -> target, direction to
    assert (arguments["latency_ms"], arguments["jitter_ms"]) == (250, 10)
    assert steps["partition-inventory"][:2] == (
        "partition",
        {"service": "inventory", "mode": "blackhole", "ttl_s": 70.0},
    )
    assert steps["bandwidth-gateway"][1]["rate_kbps"] == 125  # 1 mbps = 125 KB/s
    func, arguments, _ = steps["slow-checkout-delay"]
    assert func == "delay_requests"
    assert (arguments["method"], arguments["path"], arguments["latency_ms"]) == (
        "POST",
        "/checkout",
        1000,
    )
    assert arguments["stream"] == "upstream"  # target: Request
    func, arguments, _ = steps["burn-recommendations"]
    assert func == "throttle_cpu" and arguments["count"] == 1  # mode one
    assert arguments["cpu_percent"] == pytest.approx(66.7)
    # The Schedule imports the chaos it schedules, once; its cron is listed.
    assert steps["hourly-payments-delay"][1]["latency_ms"] == 100
    fields = _fields(result)
    assert "cron" in fields["document 7.spec.schedule"]
    assert "document 2.spec.delay.correlation" in fields
    assert "document 6.spec.stressors.memory" in fields


def test_on_kubernetes_pods_are_killed_by_label_and_http_and_stress_are_listed() -> None:
    result = import_manifest(MANIFESTS / "chaos-mesh.yaml", "k8s")

    steps = _steps(result)
    func, arguments, _ = steps["pod-kill-catalog"]
    assert func == "kill_pods"
    assert arguments == {
        "label_selector": "app.kubernetes.io/name=catalog",
        "namespace": "gameday-lab",
        "mode": "count",
        "count": 2,
        "grace_period_seconds": 0,
    }
    assert "slow-checkout-delay" not in steps and "burn-recommendations" not in steps
    fields = _fields(result)
    assert "HTTP toxics" in fields["document 5.spec"]
    assert "--target local" in fields["document 6.spec.stressors"]
    assert result.experiment["configuration"]["k8s_namespaces"] == ["gameday-lab"]


def _chaos(tmp_path: Path, kind: str, spec: dict[str, Any]) -> Path:
    body = {"selector": {"labelSelectors": {"app": "payments"}}, "mode": "one", **spec}
    document = {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": kind, "metadata": {"name": "x"}}
    path = tmp_path / "chaos.yaml"
    path.write_text(yaml.safe_dump({**document, "spec": body}))
    return path


def test_direction_both_cuts_both_edges(tmp_path: Path) -> None:
    target = {"mode": "all", "selector": {"labelSelectors": {"app": "orders"}}}
    path = _chaos(
        tmp_path, "NetworkChaos", {"action": "partition", "direction": "both", "target": target}
    )
    result = import_manifest(path, "local")

    edges = [a["provider"]["arguments"]["edge"] for a in result.experiment["method"]]
    assert edges == ["payments->orders", "orders->payments"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"action": "delay", "delay": {"latency": "ten"}}, "spec.delay.latency: 'ten' is not a"),
        ({"action": "bandwidth", "bandwidth": {"rate": "fast"}}, "spec.bandwidth.rate: 'fast'"),
        ({"action": "delay", "mode": "fixed", "value": "two"}, "spec.value: 'two' is not a number"),
        ({"action": "delay", "mode": "some"}, "spec.mode: unknown mode 'some'"),
        (
            {"action": "partition", "selector": {"labelSelectors": {"app": "x"}, "pods": {}}},
            "spec.selector.pods: only namespaces and labelSelectors are imported",
        ),
    ],
)
def test_bad_values_are_located(tmp_path: Path, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        import_manifest(_chaos(tmp_path, "NetworkChaos", spec), "local")

    assert message in str(raised.value)
