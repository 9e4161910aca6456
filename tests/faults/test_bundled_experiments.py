"""Every bundled experiment is a valid Chaos Toolkit experiment that uses our providers
correctly and links an existing runbook."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaoslib.experiment import ensure_experiment_is_valid

from chaos.experiment import load_experiment
from chaos.experiment.extension import gameday_settings

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
SCENARIOS = {
    "payments-latency",
    "recommendations-down",
    "payments-partition",
    "catalog-replica-kill",
    "inventory-outage",
    "gateway-bandwidth-squeeze",
    "orders-inventory-resets",
    "notifications-down",
    "payments-latency-no-breaker",
    "flagship",
    "payments-first-failures",
    "catalog-half-aborted",
    "recommendations-slow-route",
    "payments-lost-responses",
}


def activities(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    hypothesis = experiment.get("steady-state-hypothesis", {}).get("probes", [])
    return [*hypothesis, *experiment.get("method", []), *experiment.get("rollbacks", [])]


def test_every_scenario_is_bundled() -> None:
    assert {path.stem for path in EXPERIMENTS} >= SCENARIOS


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_is_valid_chaos_toolkit(path: Path) -> None:
    experiment = yaml.safe_load(path.read_text())
    ensure_experiment_is_valid(experiment)  # raises InvalidExperiment
    settings = gameday_settings(experiment)

    runbook = ROOT / settings["runbook"]
    assert runbook.is_file(), f"{path.name}: runbook {settings['runbook']} missing"
    assert runbook.parent == ROOT / "runbooks"
    teaches = settings["teaches"]
    assert isinstance(teaches, str) and teaches.strip() and "\n" not in teaches.strip()
    assert isinstance(experiment["tags"], list) and experiment["tags"]
    assert settings["load"]["users"] > 0 and settings["load"]["spawn_rate"] > 0
    probes = experiment["steady-state-hypothesis"]["probes"]
    assert probes and all("tolerance" in probe for probe in probes)
    assert experiment["method"] and experiment["rollbacks"]

    load = settings["load"]
    declared = load.get("warmup_s", 0) + load.get("baseline_s", 0) + load.get("recovery_s", 0)
    declared += sum(a.get("pauses", {}).get("after", 0) for a in experiment["method"])
    assert 15 <= declared <= 45, f"{path.name}: declared durations total {declared} s"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_passes_the_gameday_loader(path: Path) -> None:
    loaded = load_experiment(path)  # raises ExperimentError naming file, line and field
    assert loaded.model.runbook and loaded.model.teaches


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_providers_exist_and_arguments_match(path: Path) -> None:
    experiment = yaml.safe_load(path.read_text())
    for activity in activities(experiment):
        provider = activity["provider"]
        assert provider["type"] == "python"
        assert provider["module"].startswith(("chaos.faults.", "chaos.probes."))
        func = getattr(importlib.import_module(provider["module"]), provider["func"])
        signature = inspect.signature(func)
        arguments = provider.get("arguments", {})
        signature.bind(**arguments)  # TypeError names a wrong or missing argument
        assert "configuration" in signature.parameters, (
            f"{activity['name']}: providers take the engine's configuration"
        )


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_fault_is_rolled_back(path: Path) -> None:
    experiment = yaml.safe_load(path.read_text())
    undo_of = {
        "add_latency": "remove_toxics",
        "limit_bandwidth": "remove_toxics",
        "reset_connections": "remove_toxics",
        "slow_close": "remove_toxics",
        "slice_packets": "remove_toxics",
        "limit_data": "remove_toxics",
        "partition": "heal_partition",
        "pause_replicas": "resume_replicas",
    }
    rollbacks = {a["provider"]["func"] for a in experiment["rollbacks"]}
    for action in experiment["method"]:
        func = action["provider"]["func"]
        if func in undo_of:
            assert undo_of[func] in rollbacks, f"{path.name}: {func} has no rollback"
            assert action["provider"]["arguments"].get("ttl_s"), f"{path.name}: no TTL"
