from __future__ import annotations

import importlib
import inspect

import pytest
import yaml
from pydantic import ValidationError

from chaos.experiment import load_experiment
from chaos.incident import IncidentError, IncidentFacts, parse_slo, write_scaffold


def facts(**overrides) -> IncidentFacts:
    base = {
        "incident_id": "INC-2041",
        "summary": "Checkout timed out while payments was slow",
        "edge": "orders->payments",
        "fault": "latency",
        "size": 800,
        "duration_s": 30,
        "users": 25,
        "slo": parse_slo("p95 <= 1500ms", endpoint="POST /checkout"),
    }
    return IncidentFacts(**{**base, **overrides})


def steps(experiment):
    hypothesis = experiment["steady-state-hypothesis"]["probes"]
    return [*hypothesis, *experiment["method"], *experiment["rollbacks"]]


def assert_providers_resolve(experiment):
    """Every provider names a real function whose signature accepts the arguments."""
    for step in steps(experiment):
        provider = step["provider"]
        func = getattr(importlib.import_module(provider["module"]), provider["func"])
        inspect.signature(func).bind(**provider["arguments"])


CASES = [
    {},
    {"fault": "bandwidth", "size": 64},
    {"fault": "reset", "size": None},
    {"fault": "partition", "size": None, "edge": None, "service": "recommendations"},
    {"fault": "kill", "size": 2, "edge": None, "service": "inventory"},
    {"fault": "pause", "size": 1, "edge": None, "service": "payments"},
    {"slo": parse_slo("error_rate <= 1%")},
]


@pytest.mark.parametrize("overrides", CASES, ids=lambda o: o.get("fault", "latency"))
def test_scaffold_is_a_runnable_experiment(tmp_path, overrides):
    incident = facts(**overrides)
    experiment_path, runbook_path = write_scaffold(
        incident, tmp_path / "experiments", tmp_path / "runbooks"
    )
    assert experiment_path.name == "incident-inc-2041.yaml"
    experiment = yaml.safe_load(experiment_path.read_text())
    assert experiment["title"] == "INC-2041: Checkout timed out while payments was slow"
    [settings] = experiment["extensions"]
    assert settings["name"] == "gameday"
    assert settings["runbook"] == "runbooks/incident-inc-2041.md"
    # the engine's own validation: schema, providers, arguments, tolerances, runbook
    loaded = load_experiment(experiment_path)
    assert loaded.model.load.users == 25
    assert settings["load"]["users"] == 25
    assert_providers_resolve(experiment)
    fault = experiment["method"][0]
    assert fault["pauses"] == {"after": 30}
    # what ends the fault runs in the method and again as a rollback
    assert [s["provider"]["func"] for s in experiment["method"][1:]] == [
        s["provider"]["func"] for s in experiment["rollbacks"]
    ]
    runbook = runbook_path.read_text()
    assert runbook.startswith("# INC-2041: Checkout timed out while payments was slow")
    assert f"gameday verify {experiment_path.as_posix()} --repeat 5" in runbook


def test_latency_incident_maps_to_the_network_fault_and_slo_probe(tmp_path):
    path, _ = write_scaffold(facts(), tmp_path / "e", tmp_path / "r")
    experiment = yaml.safe_load(path.read_text())
    fault = experiment["method"][0]["provider"]
    assert (fault["module"], fault["func"]) == ("chaos.faults.network", "add_latency")
    assert fault["arguments"] == {"edge": "orders->payments", "latency_ms": 800, "ttl_s": 90}
    slo = experiment["steady-state-hypothesis"]["probes"][0]
    assert slo["tolerance"] == {"type": "range", "range": [0, 1500.0]}
    assert slo["provider"]["func"] == "latency_percentile"
    assert slo["provider"]["arguments"] == {"p": 95, "window_s": 5, "endpoint": "POST /checkout"}


def test_kill_incident_waits_for_replicas(tmp_path):
    incident = facts(fault="kill", size=2, edge=None, service="inventory")
    path, _ = write_scaffold(incident, tmp_path / "e", tmp_path / "r")
    experiment = yaml.safe_load(path.read_text())
    kill = experiment["method"][0]["provider"]
    assert kill["func"] == "kill_replicas"
    assert kill["arguments"] == {"service": "inventory", "count": 2}
    assert experiment["rollbacks"][0]["provider"]["func"] == "seconds_until_ready"


def test_refuses_to_overwrite(tmp_path):
    write_scaffold(facts(), tmp_path / "e", tmp_path / "r")
    with pytest.raises(IncidentError, match="--force"):
        write_scaffold(facts(), tmp_path / "e", tmp_path / "r")
    write_scaffold(facts(size=900), tmp_path / "e", tmp_path / "r", force=True)
    assert "latency_ms: 900" in (tmp_path / "e" / "incident-inc-2041.yaml").read_text()


@pytest.mark.parametrize(
    ("text", "metric", "limit"),
    [
        ("p95 <= 500ms", "p95", 500.0),
        ("P99<1s", "p99", 1000.0),
        ("error_rate <= 1%", "error_rate", 0.01),
        ("errors <= 0.05", "error_rate", 0.05),
    ],
)
def test_parse_slo(text, metric, limit):
    slo = parse_slo(text)
    assert (slo.metric, slo.limit) == (metric, limit)


@pytest.mark.parametrize("text", ["p95 >= 5ms", "latency fast", "error_rate <= 200%", "p95 <= 5%"])
def test_bad_slo_is_explained(text):
    with pytest.raises(IncidentError, match="SLO"):
        parse_slo(text)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"service": "payments"}, "exactly one of a service or an edge"),
        ({"fault": "kill", "size": 1}, "acts on a service's replicas"),
        ({"size": None}, "needs a size in ms"),
        ({"edge": "orders to payments"}, "not an edge"),
        ({"fault": "kill", "edge": None, "service": "x", "size": 1.5}, "whole number"),
    ],
)
def test_inconsistent_facts_are_refused(overrides, message):
    with pytest.raises(ValidationError, match=message):
        facts(**overrides)
