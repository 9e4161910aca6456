"""Turn an incident's facts into an experiment that replays its conditions and a runbook.

The experiment injects the incident's fault at its size for its duration under its load,
and its steady-state hypothesis is the SLO that broke (plus the shop's data invariants),
so it deviates on the unfixed system and holds once the fix works. `gameday verify FILE
--repeat N` then shows whether the fix holds every time.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined

from chaos.experiment.extension import EXTENSION_NAME
from chaos.incident.errors import IncidentError
from chaos.incident.facts import IncidentFacts

NETWORK = "chaos.faults.network"
PROCESS = "chaos.faults.process"
LOAD_PROBES = "chaos.probes.load"
TTL_MARGIN_S = 60
SLO_WINDOW_S = 5
# fault kind -> (fault function, its size argument, its undo, fixed arguments)
NETWORK_FAULTS: dict[str, tuple[str, str | None, str, dict[str, Any]]] = {
    "latency": ("add_latency", "latency_ms", "remove_toxics", {}),
    "bandwidth": ("limit_bandwidth", "rate_kbps", "remove_toxics", {}),
    "reset": ("reset_connections", None, "remove_toxics", {"timeout_ms": 0}),
    "partition": ("partition", None, "heal_partition", {"mode": "blackhole"}),
}


def build_experiment(facts: IncidentFacts, runbook: str) -> dict[str, Any]:
    """The experiment as a Chaos Toolkit document, our settings under `extensions`."""
    fault, undo = _fault_actions(facts)
    return {
        "version": "1.0.0",
        "title": f"{facts.incident_id}: {facts.summary}",
        "description": (
            f"Replays the conditions of incident {facts.incident_id}: "
            f"{facts.fault_description()}, under {facts.users} users. The SLO that broke "
            f"({facts.slo}) is the hypothesis: this experiment deviated before the fix and "
            "holds once the fix works."
        ),
        "tags": ["incident", facts.slug.removeprefix("incident-"), facts.fault],
        "extensions": [
            {
                "name": EXTENSION_NAME,
                "teaches": (
                    f"Whether the fix for {facts.incident_id} holds under the incident's "
                    "conditions."
                ),
                "runbook": runbook,
                "target": {"kind": "local"},
                "load": {
                    "users": facts.users,
                    "spawn_rate": facts.spawn_rate,
                    "warmup_s": 5,
                    "baseline_s": 5,
                },
            }
        ],
        "steady-state-hypothesis": {
            "title": f"The SLO that broke in {facts.incident_id} holds: {facts.slo}",
            "probes": [_slo_probe(facts), _invariants_probe()],
        },
        "method": [fault, *undo],
        "rollbacks": [_as_rollback(action) for action in undo],
    }


def _python(module: str, func: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "python", "module": module, "func": func, "arguments": arguments}


def _fault_actions(facts: IncidentFacts) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The fault (held for the duration) and what ends it, in method order."""
    duration = math.ceil(facts.duration_s)
    ttl = duration + TTL_MARGIN_S
    where = {"edge": facts.edge} if facts.edge else {"service": facts.service}
    size = facts.size
    name = f"{facts.fault}-{facts.target}".replace("->", "-to-")
    if facts.fault == "kill":
        kill = _action(
            name, PROCESS, "kill_replicas", {"service": facts.service, "count": int(size or 1)}
        )
        kill["pauses"] = {"after": duration}
        return kill, [_replicas_back(facts)]
    if facts.fault == "pause":
        arguments = {"service": facts.service, "count": int(size or 1), "ttl_s": ttl}
        pause = _action(name, PROCESS, "pause_replicas", arguments)
        pause["pauses"] = {"after": duration}
        resume = _action(
            f"resume-{facts.service}", PROCESS, "resume_replicas", {"service": facts.service}
        )
        return pause, [resume]
    func, size_argument, undo_func, fixed = NETWORK_FAULTS[facts.fault]
    arguments = dict(fixed)
    if size_argument is not None:
        arguments[size_argument] = int(size or 0)
    action = _action(name, NETWORK, func, {**where, **arguments, "ttl_s": ttl})
    action["pauses"] = {"after": duration}
    return action, [_action(f"end-{name}", NETWORK, undo_func, dict(where))]


def _action(name: str, module: str, func: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "action", "name": name, "provider": _python(module, func, arguments)}


def _replicas_back(facts: IncidentFacts) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": f"{facts.service}-back-to-full-strength",
        "provider": _python(
            "chaos.probes.replicas",
            "seconds_until_ready",
            {"service": facts.service, "timeout_s": 30},
        ),
    }


def _as_rollback(step: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in step.items() if key != "pauses"}


def _slo_probe(facts: IncidentFacts) -> dict[str, Any]:
    slo = facts.slo
    arguments: dict[str, Any] = {"window_s": min(SLO_WINDOW_S, math.ceil(facts.duration_s))}
    if slo.endpoint:
        arguments["endpoint"] = slo.endpoint
    if slo.metric == "error_rate":
        name, func = "slo-error-rate", "error_rate"
    else:
        name, func = f"slo-{slo.metric}-ms", "latency_percentile"
        arguments = {"p": int(slo.metric[1:]), **arguments}
    return {
        "type": "probe",
        "name": name,
        "tolerance": {"type": "range", "range": [0, slo.limit]},
        "provider": _python(LOAD_PROBES, func, arguments),
    }


def _invariants_probe() -> dict[str, Any]:
    return {
        "type": "probe",
        "name": "no-order-lost-or-charged-twice",
        "tolerance": True,
        "provider": _python("chaos.probes.invariants", "invariants_hold", {}),
    }


def render_runbook(facts: IncidentFacts, experiment_path: Path) -> str:
    env = Environment(
        loader=PackageLoader("chaos.incident", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("runbook.md.j2").render(
        facts=facts, experiment=experiment_path.as_posix()
    )


def _runbook_reference(experiment_path: Path, runbook_path: Path) -> str:
    """How the experiment names its runbook: from the project root (the experiments folder's
    parent) like the bundled experiments do, else relative to the experiment file."""
    here = experiment_path.resolve().parent
    target = runbook_path.resolve()
    if target.is_relative_to(here.parent):
        return target.relative_to(here.parent).as_posix()
    return Path(os.path.relpath(target, here)).as_posix()


def write_scaffold(
    facts: IncidentFacts, experiments_dir: Path, runbooks_dir: Path, force: bool = False
) -> tuple[Path, Path]:
    """Write `<experiments_dir>/<slug>.yaml` and `<runbooks_dir>/<slug>.md`; refuses to
    overwrite either unless `force`."""
    experiment_path = experiments_dir / f"{facts.slug}.yaml"
    runbook_path = runbooks_dir / f"{facts.slug}.md"
    if not force:
        existing = [str(path) for path in (experiment_path, runbook_path) if path.exists()]
        if existing:
            raise IncidentError(
                f"{' and '.join(existing)} already exist; pass --force to overwrite"
            )
    experiment = build_experiment(facts, _runbook_reference(experiment_path, runbook_path))
    header = (
        f"# Scaffolded by `gameday incident new` from incident {facts.incident_id}.\n"
        f"# Check it with `gameday validate {experiment_path.as_posix()}`; prove the fix with\n"
        f"# `gameday verify {experiment_path.as_posix()} --repeat 5`.\n"
    )
    experiments_dir.mkdir(parents=True, exist_ok=True)
    runbooks_dir.mkdir(parents=True, exist_ok=True)
    experiment_path.write_text(
        header + yaml.safe_dump(experiment, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    runbook_path.write_text(render_runbook(facts, experiment_path), encoding="utf-8")
    return experiment_path, runbook_path
