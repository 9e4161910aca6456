"""`--dry-run`: the plan of a run and its blast radius, resolved without touching anything.

Edges and replicas are resolved against a running mesh when there is one (read-only: the
state file); otherwise the plan says they resolve when the mesh starts.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from chaos.experiment.loader import LoadedExperiment
from chaos.experiment.models import Activity, Target

PROCESS_MODULE = "chaos.faults.process"
# A target's own resolver (Kubernetes: each fault's dry run against the API), like
# `_resolve`: (activity, radius to add to) -> (target, what it would touch).
Resolver = Callable[[Activity, "BlastRadius"], tuple[str | None, list[str]]]


class PlannedStep(BaseModel):
    section: str
    name: str
    type: str
    call: str
    target: str | None = None
    resolved: list[str] = Field(default_factory=list)
    pause_after_s: float = 0.0


class BlastRadius(BaseModel):
    edges: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    replicas: dict[str, str] = Field(default_factory=dict)
    longest_fault_s: float = 0.0
    users: int = 0


class Plan(BaseModel):
    title: str
    target: str
    mesh_running: bool
    phases: list[tuple[str, float]]
    hypothesis: list[str]
    hypothesis_frequency_s: float
    steps: list[PlannedStep]
    guardrails: list[str]
    blast_radius: BlastRadius
    declared_s: float
    # Why targets could not be resolved (e.g. the cluster did not answer).
    unreachable: str | None = None


def _edge_matches(pattern: str, edges: list[str]) -> list[str]:
    caller, _, callee = pattern.partition("->")
    found = []
    for edge in edges:
        e_caller, _, e_callee = edge.partition("->")
        if fnmatch.fnmatchcase(e_caller, caller or "*") and fnmatch.fnmatchcase(
            e_callee, callee or "*"
        ):
            found.append(edge)
    return found


def _resolve(activity: Activity, state: Any, radius: BlastRadius) -> tuple[str | None, list[str]]:
    provider = activity.provider
    arguments = provider.arguments if provider and isinstance(provider.arguments, dict) else {}
    module = provider.module if provider else None
    edges = sorted(state.edges) if state is not None else []
    if module == PROCESS_MODULE and arguments.get("service"):
        service = str(arguments["service"])
        radius.services.append(service)
        if state is None or service not in state.services:
            return f"service={service}", ["(replicas resolve when the mesh starts)"]
        replicas = state.services[service].replicas
        total = len(replicas)
        count = arguments.get("count")
        if count is None and arguments.get("percent") is not None:
            count = math.ceil(total * float(arguments["percent"]) / 100)
        chosen = min(int(count if count is not None else 1), total)
        radius.replicas[service] = f"{chosen} of {total}"
        return f"service={service}", [
            f"{service} replica {r.index} (pid {r.pid})" for r in replicas
        ]
    pattern = None
    if arguments.get("edge"):
        pattern = str(arguments["edge"])
    elif arguments.get("service"):
        pattern = f"*->{arguments['service']}"
    if pattern is not None:
        _, _, callee = pattern.partition("->")
        if callee and "*" not in callee:
            radius.services.append(callee)
        if state is None:
            return pattern, ["(edges resolve when the mesh starts)"]
        matched = _edge_matches(pattern, edges)
        radius.edges += matched
        radius.services += [edge.partition("->")[2] for edge in matched]
        return pattern, matched or ["(no edge matches: the fault would fail)"]
    if arguments.get("proxy"):
        proxies = (
            arguments["proxy"] if isinstance(arguments["proxy"], list) else [arguments["proxy"]]
        )
        radius.edges += [str(p) for p in proxies]
        return f"proxy={','.join(map(str, proxies))}", [str(p) for p in proxies]
    described = ", ".join(f"{k}={v}" for k, v in arguments.items() if k != "configuration")
    return described or None, []


def _call(activity: Activity) -> str:
    provider = activity.provider
    if provider is None:
        return f"ref {activity.ref}"
    if provider.type == "python":
        return f"{provider.module}.{provider.func}"
    return f"{provider.type} {provider.url or provider.path}"


def build_plan(
    loaded: LoadedExperiment,
    target: Target,
    state: Any = None,
    resolve: Resolver | None = None,
    unreachable: str | None = None,
) -> Plan:
    """The plan for `loaded` on `target`; `state` is a running mesh's state or None;
    `resolve` replaces the mesh's resolution."""
    model = loaded.model
    radius = BlastRadius(users=model.load.users if model.load else 0)
    steps: list[PlannedStep] = []
    method_s = 0.0
    for section, activities in (("method", model.method), ("rollbacks", model.rollbacks)):
        for activity in activities:
            pause = activity.pauses.after + activity.pauses.before if activity.pauses else 0.0
            resolved_target, resolved = (None, [])
            if activity.type == "action" and section == "method" and resolve is not None:
                resolved_target, resolved = resolve(activity, radius)
            elif activity.type == "action" and section == "method":
                resolved_target, resolved = _resolve(activity, state, radius)
            if section == "method":
                method_s += pause
            steps.append(
                PlannedStep(
                    section=section,
                    name=activity.name or str(activity.ref),
                    type=activity.type or "ref",
                    call=_call(activity),
                    target=resolved_target,
                    resolved=resolved,
                    pause_after_s=pause,
                )
            )
    radius.longest_fault_s = method_s
    radius.edges = sorted(set(radius.edges))
    radius.services = sorted(set(radius.services))
    load = model.load
    phases = [
        ("warmup", load.warmup_s if load else 0.0),
        ("baseline", load.baseline_s if load else 0.0),
        ("method", method_s),
        ("recovery", load.recovery_s if load else 0.0),
        ("after", load.after_s if load else 0.0),
    ]
    hypothesis = [
        p.name or str(p.ref)
        for p in (model.steady_state_hypothesis.probes if model.steady_state_hypothesis else [])
    ]
    label = target.kind if target.kind != "k8s" else f"k8s:{target.context or 'current'}"
    return Plan(
        title=model.title,
        target=label,
        mesh_running=state is not None,
        phases=phases,
        hypothesis=hypothesis,
        hypothesis_frequency_s=model.hypothesis_frequency_s,
        steps=steps,
        guardrails=[g.name or g.condition for g in model.guardrails],
        blast_radius=radius,
        declared_s=sum(seconds for _, seconds in phases),
        unreachable=unreachable,
    )
