"""LitmusChaos ChaosEngines (in the shapes of the ChaosHub examples) as gameday
experiments: which faults and probes they become on each target, and what is listed as
not mapped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.importers import ManifestError, NothingToImport, import_manifest

MANIFESTS = Path(__file__).parent / "manifests"


def _calls(activities: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (a["provider"]["module"], a["provider"]["func"], a["provider"]["arguments"])
        for a in activities
    ]


def _fields(result: Any) -> dict[str, str]:
    return {item.field: item.reason for item in result.unmapped}


def _engine(tmp_path: Path, experiments: list[dict[str, Any]], **spec: Any) -> Path:
    engine = {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosEngine",
        "metadata": {"name": "shop-chaos", "namespace": "default"},
        "spec": {
            "appinfo": {"appns": "shop", "applabel": "app=payments", "appkind": "deployment"},
            "experiments": experiments,
            **spec,
        },
    }
    path = tmp_path / "engine.yaml"
    path.write_text(yaml.safe_dump(engine))
    return path


def _env(**values: str) -> dict[str, Any]:
    return {"components": {"env": [{"name": k, "value": v} for k, v in values.items()]}}


def test_pod_delete_kills_a_pod_every_interval_on_kubernetes() -> None:
    result = import_manifest(MANIFESTS / "litmus-pod-delete.yaml", "k8s")

    experiment = result.experiment
    calls = _calls(experiment["method"])
    assert len(calls) == 2  # TOTAL_CHAOS_DURATION 20 / CHAOS_INTERVAL 10
    for module, func, arguments in calls:
        assert (module, func) == ("chaos.faults.kubernetes", "kill_pods")
        assert arguments["label_selector"] == "app.kubernetes.io/name=catalog"
        assert arguments["namespace"] == "gameday-lab"
        assert arguments["grace_period_seconds"] == 0  # FORCE true
    assert [a["pauses"]["after"] for a in experiment["method"]] == [10, 10]
    assert experiment["configuration"]["k8s_namespaces"] == ["gameday-lab"]
    settings = experiment["extensions"][0]
    assert settings["target"] == {"kind": "k8s"} and settings["load"] is False
    assert settings["hypothesis_frequency_s"] == 2  # runProperties.interval
    probe = experiment["steady-state-hypothesis"]["probes"][0]
    assert _calls([probe])[0][:2] == ("chaos.probes.kubernetes", "count_ready_pods")
    assert probe["tolerance"]["range"][0] == 1


def test_every_field_without_an_equivalent_is_listed() -> None:
    result = import_manifest(MANIFESTS / "litmus-pod-delete.yaml", "k8s")

    fields = _fields(result)
    for field in (
        "spec.engineState",
        "spec.annotationCheck",
        "spec.chaosServiceAccount",
        "spec.jobCleanUpPolicy",
        "spec.experiments[0].spec.components.env.SEQUENCE",
        "spec.experiments[0].spec.probe[0].runProperties.retry",
        "spec.experiments[0].spec.probe[0].mode",
    ):
        assert field in fields, field
    # Fields that did map are not listed: the duration, the interval, the selector.
    assert not any("TOTAL_CHAOS_DURATION" in f or "appinfo" in f for f in fields)
    assert "Edge" in fields["spec.experiments[0].spec.probe[0].mode"]


def test_network_experiments_map_onto_the_shops_edges_on_the_local_mesh() -> None:
    result = import_manifest(MANIFESTS / "litmus-network.yaml", "local")

    calls = _calls(result.experiment["method"])
    by_func = {func: arguments for _, func, arguments in calls}
    assert by_func["add_latency"] == {
        "service": "payments",
        "latency_ms": 300,
        "jitter_ms": 20,
        "ttl_s": 75.0,
    }
    assert by_func["partition"]["service"] == "payments"  # loss 100 % and the partition
    assert sum(func == "partition" for _, func, _ in calls) == 2
    assert by_func["abort_requests"]["http_status"] == 500
    assert by_func["abort_requests"]["toxicity"] == 0.5
    assert by_func["throttle_cpu"]["cpu_percent"] == 50  # one core at 100 % beside it
    rollbacks = {r["provider"]["func"] for r in result.experiment["rollbacks"]}
    assert rollbacks == {"remove_toxics", "heal_partition"}
    fields = _fields(result)
    assert "the local mesh has no nodes" in fields["spec.experiments[5]"]
    assert "cmdProbe" in fields["spec.experiments[0].spec.probe[2]"]


def test_probes_become_hypothesis_probes_with_their_comparators() -> None:
    result = import_manifest(MANIFESTS / "litmus-network.yaml", "k8s")

    probes = {p["name"]: p for p in result.experiment["steady-state-hypothesis"]["probes"]}
    assert set(probes) == {"gateway-ready", "breaker-closed"}
    http = probes["gateway-ready"]
    assert http["tolerance"] == 200
    assert http["provider"]["arguments"]["timeout_s"] == 5
    prom = probes["breaker-closed"]
    assert prom["provider"]["arguments"]["query"] == "max(shop_circuit_breaker_state)"
    low, high = prom["tolerance"]["range"]
    assert high == 0 and low < -1e300


def test_faults_a_target_cannot_run_are_listed_with_the_reason() -> None:
    result = import_manifest(MANIFESTS / "litmus-network.yaml", "k8s")

    funcs = [func for _, func, _ in _calls(result.experiment["method"])]
    assert "drain_node" in funcs and "abort_requests" not in funcs and "throttle_cpu" not in funcs
    fields = _fields(result)
    assert "--target local" in fields["spec.experiments[3]"]  # pod-http-status-code
    assert "--target local" in fields["spec.experiments[4]"]  # pod-cpu-hog


def test_partial_packet_loss_is_listed_not_turned_into_something_else(tmp_path: Path) -> None:
    path = _engine(
        tmp_path,
        [
            {"name": "pod-network-loss", "spec": _env(NETWORK_PACKET_LOSS_PERCENTAGE="30")},
            {"name": "pod-network-latency", "spec": _env(NETWORK_LATENCY="100")},
        ],
    )
    result = import_manifest(path, "local")

    assert [func for _, func, _ in _calls(result.experiment["method"])] == ["add_latency"]
    field = "spec.experiments[0].spec.components.env.NETWORK_PACKET_LOSS_PERCENTAGE"
    assert "only a 100 % loss maps" in _fields(result)[field]


def test_a_selector_naming_no_shop_service_maps_nothing_on_the_local_mesh(tmp_path: Path) -> None:
    path = _engine(tmp_path, [{"name": "pod-delete", "spec": _env()}])
    path.write_text(path.read_text().replace("app=payments", "app=nginx"))

    with pytest.raises(NothingToImport) as raised:
        import_manifest(path, "local")

    reasons = [item.reason for item in raised.value.unmapped]
    assert any("names no service of the local shop" in reason for reason in reasons)


def test_pods_affected_perc_picks_a_share_of_the_pods(tmp_path: Path) -> None:
    path = _engine(tmp_path, [{"name": "pod-delete", "spec": _env(PODS_AFFECTED_PERC="50")}])

    on_cluster = import_manifest(path, "k8s")
    on_mesh = import_manifest(path, "local")

    (_, _, arguments), *_ = _calls(on_cluster.experiment["method"])
    assert (arguments["mode"], arguments["percent"]) == ("percent", 50)
    (_, _, arguments), *_ = _calls(on_mesh.experiment["method"])
    assert (arguments["service"], arguments["percent"]) == ("payments", 50)
    assert not any("PODS_AFFECTED_PERC" in item.field for item in on_cluster.unmapped)


def test_unknown_experiments_are_listed(tmp_path: Path) -> None:
    path = _engine(
        tmp_path,
        [{"name": "disk-fill", "spec": _env()}, {"name": "pod-delete", "spec": _env()}],
    )
    result = import_manifest(path, "k8s")

    assert "imported experiments: pod-delete" in _fields(result)["spec.experiments[0].name"]


@pytest.mark.parametrize(
    ("applabel", "env", "message"),
    [
        ("app!=payments", {}, "spec.appinfo.applabel: 'app!=payments': only equality selectors"),
        (
            "app=payments",
            {"CHAOS_INTERVAL": "soon"},
            "env.CHAOS_INTERVAL: 'soon' is not a duration",
        ),
        ("app=payments", {"TOTAL_CHAOS_DURATION": "1x"}, "TOTAL_CHAOS_DURATION: '1x' is not a"),
        ("app=payments", {"TARGET_PODS": "payments-0"}, "env.TARGET_PODS: only appinfo.applabel"),
    ],
)
def test_bad_values_are_located(
    tmp_path: Path, applabel: str, env: dict[str, str], message: str
) -> None:
    path = _engine(tmp_path, [{"name": "pod-delete", "spec": _env(**env)}])
    path.write_text(path.read_text().replace("app=payments", applabel))

    with pytest.raises(ManifestError) as raised:
        import_manifest(path, "k8s")

    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
