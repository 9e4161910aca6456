"""The mesh -> Kubernetes mapping table and the validation it brings (no cluster needed:
everything here fails or is decided before the first API call)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.engine import k8s_target
from chaos.engine.k8s_target import EQUIVALENTS, Equivalent, adapt_experiment
from chaos.experiment import ExperimentError, Target, load_experiment


def _params(module: str, func: str) -> set[str]:
    target = getattr(__import__(module, fromlist=[func]), func)
    return set(inspect.signature(target).parameters)


@pytest.mark.parametrize(
    "func", ["add_latency", "reset_connections", "partition", "remove_toxics", "heal_partition"]
)
def test_network_faults_keep_their_name_and_accept_every_mesh_argument(func: str) -> None:
    found = EQUIVALENTS[("chaos.faults.network", func)]
    assert isinstance(found, Equivalent)
    assert (found.module, found.func) == ("chaos.faults.kubernetes_network", func)
    mesh = _params("chaos.faults.network", func)
    assert mesh <= _params(found.module, found.func), mesh - _params(found.module, found.func)


def _experiment(tmp_path: Path, method: list[dict], **extra: Any) -> Path:
    document = {
        "title": "mapped",
        "description": "a mapping test",
        "load": False,
        "configuration": {"k8s_namespaces": ["gameday-lab"]},
        "method": method,
        **extra,
    }
    path = tmp_path / "mapped.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _action(module: str, func: str, **arguments: Any) -> dict:
    return {
        "type": "action",
        "name": f"do-{func}",
        "provider": {"type": "python", "module": module, "func": func, "arguments": arguments},
    }


def _adapt(path: Path, context: str | None = None) -> dict:
    loaded = load_experiment(path)
    return adapt_experiment(loaded, Target(kind="k8s", context=context)).data


def _gameday(data: dict) -> dict:
    """The experiment's gameday extension (target, load, ...)."""
    return next(e for e in data["extensions"] if e["name"] == "gameday")


def _provider(data: dict, index: int = 0) -> tuple[str, dict]:
    provider = data["method"][index]["provider"]
    return f"{provider['module']}.{provider['func']}", provider["arguments"]


def test_kill_replicas_becomes_kill_pods_on_the_service_label(tmp_path: Path) -> None:
    path = _experiment(
        tmp_path,
        [
            _action("chaos.faults.process", "kill_replicas", service="catalog", percent=50),
            _action(
                "chaos.faults.process",
                "kill_replicas",
                service="orders",
                count=1,
                signal="SIGTERM",
                seed=4,
            ),
        ],
    )
    data = _adapt(path)
    assert _provider(data, 0) == (
        "chaos.faults.kubernetes.kill_pods",
        {
            "label_selector": "app.kubernetes.io/name=catalog",
            "namespace": "gameday-lab",
            "grace_period_seconds": 0,
            "mode": "percent",
            "percent": 50,
        },
    )
    assert _provider(data, 1) == (
        "chaos.faults.kubernetes.kill_pods",
        {
            "label_selector": "app.kubernetes.io/name=orders",
            "namespace": "gameday-lab",
            "grace_period_seconds": 30,
            "mode": "count",
            "count": 1,
            "seed": 4,
        },
    )


def test_toxics_without_a_namesake_become_sidecar_toxics(tmp_path: Path) -> None:
    path = _experiment(
        tmp_path,
        [
            _action(
                "chaos.faults.network",
                "limit_bandwidth",
                edge="client->gateway",
                rate_kbps=16,
                stream="both",
                ttl_s=60,
            ),
            _action("chaos.faults.network", "add_latency", service="payments", latency_ms=200),
        ],
    )
    data = _adapt(path)
    # client->gateway lives in the gateway pods' sidecars, the only edge into the gateway.
    assert _provider(data, 0) == (
        "chaos.faults.kubernetes_network.add_sidecar_toxic",
        {
            "edge": "*->gateway",
            "toxic_type": "bandwidth",
            "attributes": {"rate": 16},
            "namespace": "gameday-lab",
            "stream": "both",
        },
    )
    assert _provider(data, 1) == (
        "chaos.faults.kubernetes_network.add_latency",
        {"latency_ms": 200, "edge": "*->payments", "namespace": "gameday-lab"},
    )


def test_replica_probes_become_pod_probes_and_gateway_paths_use_load_host(
    tmp_path: Path,
) -> None:
    probes = {
        "title": "ready",
        "probes": [
            {
                "type": "probe",
                "name": "ready",
                "tolerance": True,
                "provider": {
                    "type": "python",
                    "module": "chaos.probes.replicas",
                    "func": "all_replicas_ready",
                    "arguments": {"service": "payments", "timeout_s": 2},
                },
            },
            {
                "type": "probe",
                "name": "healthy",
                "tolerance": 200,
                "provider": {
                    "type": "python",
                    "module": "chaos.probes.http",
                    "func": "http_status",
                    "arguments": {"url": "/healthz"},
                },
            },
        ],
    }
    path = _experiment(
        tmp_path,
        [_action("chaos.faults.network", "add_latency", edge="orders->payments", latency_ms=1)],
        load={"host": "http://127.0.0.1:8080"},
        **{"steady-state-hypothesis": probes},
    )
    data = _adapt(path)
    ready, healthy = (p["provider"] for p in data["steady-state-hypothesis"]["probes"])
    assert (ready["module"], ready["func"]) == ("chaos.probes.kubernetes", "all_pods_ready")
    assert ready["arguments"] == {
        "label_selector": "app.kubernetes.io/name=payments",
        "namespace": "gameday-lab",
    }
    assert healthy["arguments"] == {"url": "http://127.0.0.1:8080/healthz"}


def _issues(path: Path) -> list:
    with pytest.raises(ExperimentError) as raised:
        _adapt(path)
    return raised.value.issues


def test_a_provider_without_equivalent_is_a_located_error_naming_the_activity(
    tmp_path: Path,
) -> None:
    path = _experiment(
        tmp_path,
        [
            _action("chaos.probes.invariants", "invariants_hold"),
            _action("chaos.faults.process", "pause_replicas", service="orders", count=1),
            _action("chaos.faults.network", "partition", edge="orders->payments", mode="refuse"),
        ],
    )
    first, second, third = _issues(path)
    assert first.field == "method[0].provider" and first.line is not None
    assert "'do-invariants_hold'" in first.message and "SQLite" in first.message
    assert "'do-pause_replicas'" in second.message and "paused" in second.message
    assert "'refuse'" in third.message and "blackhole" in third.message


def test_load_needs_a_host_on_kubernetes(tmp_path: Path) -> None:
    path = _experiment(
        tmp_path,
        [_action("chaos.faults.network", "add_latency", edge="orders->payments", latency_ms=1)],
        load={"users": 2},
    )
    (issue,) = _issues(path)
    assert issue.field == "load.host" and "port-forward" in issue.message
    assert "k8s_gateway_url" in issue.message


def test_the_configured_gateway_url_becomes_the_load_host(tmp_path: Path) -> None:
    method = [_action("chaos.faults.network", "add_latency", edge="orders->payments", latency_ms=1)]
    configuration = {"k8s_namespaces": ["gameday-lab"], "k8s_gateway_url": "http://127.0.0.1:9"}
    data = _adapt(_experiment(tmp_path, method, load={"users": 2}, configuration=configuration))
    assert _gameday(data)["load"] == {"users": 2, "host": "http://127.0.0.1:9"}
    configuration["k8s_gateway_url"] = "gateway:8080"
    (issue,) = _issues(
        _experiment(tmp_path, method, load={"users": 2}, configuration=configuration)
    )
    assert issue.field == "configuration.k8s_gateway_url" and "must be a URL" in issue.message


@pytest.mark.parametrize(
    ("configuration", "arguments", "field", "message"),
    [
        ({}, {"label_selector": "app=x"}, "namespace", "no namespaces are allow-listed"),
        (
            {"k8s_namespaces": ["other"]},
            {"label_selector": "app=x"},
            "namespace",
            "not in the experiment's allow-list",
        ),
        ({"k8s_namespaces": ["gameday-lab"]}, {"label_selector": ""}, "label_selector", "empty"),
        (
            {"k8s_namespaces": ["gameday-lab"]},
            {"label_selector": "app!=db"},
            "label_selector",
            "only excludes",
        ),
    ],
)
def test_blast_radius_is_checked_before_the_run(
    tmp_path: Path, configuration: dict, arguments: dict, field: str, message: str
) -> None:
    path = _experiment(
        tmp_path,
        [_action("chaos.faults.kubernetes", "kill_pods", **arguments)],
        configuration=configuration,
    )
    (issue,) = _issues(path)
    assert issue.field == f"method[0].provider.arguments.{field}"
    assert message in issue.message


def test_the_bundled_k8s_experiment_is_written_for_the_mesh_and_maps() -> None:
    path = Path(__file__).parents[2] / "experiments" / "k8s-payments-latency.yaml"
    loaded = load_experiment(path)
    assert loaded.data["method"][0]["provider"]["module"] == "chaos.faults.network"
    data = adapt_experiment(loaded, loaded.model.target).data
    assert _provider(data) == (
        "chaos.faults.kubernetes_network.add_latency",
        {
            "edge": "orders->payments",
            "latency_ms": 500,
            "jitter_ms": 150,
            "ttl_s": 120,
            "namespace": "gameday-lab",
        },
    )
    assert loaded.model.load.host is None  # on the local mesh: the mesh's gateway
    assert _gameday(data)["load"]["host"] == "http://127.0.0.1:8080"
    assert k8s_target.cluster_configuration(loaded, loaded.model.target)["k8s_context"] == (
        "kind-gameday"
    )


def test_a_topology_override_is_refused_on_kubernetes(tmp_path: Path) -> None:
    overrides = {"edges": {"orders->payments": {"circuit_breaker": {"enabled": False}}}}
    path = _experiment(
        tmp_path,
        [_action("chaos.faults.network", "add_latency", edge="orders->payments", latency_ms=1)],
        target={"kind": "local", "topology_overrides": overrides},
    )
    (issue,) = _issues(path)
    assert issue.field == "target.topology_overrides" and "as deployed" in issue.message
