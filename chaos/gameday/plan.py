"""A game-day plan (`gamedays/*.yaml`): experiments in order under one shared load, with
the facilitator's instructions and pauses between them.

```yaml
title: Shop game day
description: What the team wants to learn today.
facilitation: runbooks/gameday-facilitation.md   # roles and checklists
target: {kind: local, replicas: {catalog: 3}}    # local: start the mesh; mesh: a running one
load: {users: 20, spawn_rate: 10, warmup_s: 10}  # runs from the first step to the last
briefing: Read this to the room before the first experiment.
steps:
  - experiment: experiments/payments-latency.yaml
    instructions: Ask everyone to predict checkout p95 under the fault.
    pause_after_s: 300
    vars: {}
```

Paths are relative to the plan's folder, its parent (the project), or the working folder.
Every experiment is validated before anything starts, so a typo fails in seconds, not
forty minutes into the game day.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chaos.experiment import ExperimentError, LoadedExperiment, load_experiment
from chaos.experiment.loader import validation_message
from chaos.experiment.source import Document, FieldPath, read_document
from chaos.gameday.errors import PlanError


class PlanTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "mesh"] = Field(
        "local",
        description="local: start the bundled mesh for the game day; mesh: use the "
        "running one (`gameday mesh up`, state file from GAMEDAY_MESH_STATE).",
    )
    replicas: dict[str, int] = Field(default_factory=dict)
    topology: str | None = None


class PlanLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: int = Field(10, ge=1, le=10_000)
    spawn_rate: float = Field(10.0, gt=0, le=10_000)
    locustfile: str | None = None
    warmup_s: float = Field(10.0, ge=0, le=3600, description="Load alone before step 1.")
    ready_timeout_s: float = Field(30.0, gt=0, le=600)


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment: str
    instructions: str = Field("", description="Shown to the facilitator before the step.")
    pause_after_s: float = Field(0.0, ge=0, le=3600, description="Pause after the step.")
    vars: dict[str, Any] = Field(default_factory=dict)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    description: str = ""
    facilitation: str | None = None
    briefing: str = ""
    target: PlanTarget = Field(default_factory=PlanTarget)
    load: PlanLoad = Field(default_factory=PlanLoad)
    steps: list[PlanStep] = Field(min_length=1)


@dataclass
class LoadedPlan:
    path: Path
    plan: Plan
    experiments: list[LoadedExperiment]
    experiment_paths: list[Path]
    facilitation: Path | None


def _resolve(plan_path: Path, reference: str) -> Path | None:
    path = Path(reference)
    if path.is_absolute():
        return path if path.exists() else None
    here = plan_path.resolve().parent
    for base in (here, here.parent, Path.cwd()):
        if (base / path).exists():
            return base / path
    return None


def _located(document: Document, exc: ValidationError) -> PlanError:
    issues = []
    for error in exc.errors():
        path: FieldPath = tuple(p for p in error.get("loc", ()) if isinstance(p, str | int))
        issues.append(document.issue(path, validation_message(error)))
    return PlanError(issues)


def load_plan(path: Path | str) -> LoadedPlan:
    """Read and validate a plan and every experiment it names; raises `PlanError`."""
    path = Path(path)
    try:
        document = read_document(path)
    except ExperimentError as exc:
        raise PlanError(exc.issues) from exc
    if not isinstance(document.data, dict):
        raise PlanError([document.issue((), "a game-day plan is a mapping (title, steps…)")])
    try:
        plan = Plan.model_validate(document.data)
    except ValidationError as exc:
        raise _located(document, exc) from exc

    issues = []
    facilitation = None
    if plan.facilitation:
        facilitation = _resolve(path, plan.facilitation)
        if facilitation is None:
            issues.append(document.issue(("facilitation",), f"{plan.facilitation} not found"))
    experiments: list[LoadedExperiment] = []
    paths: list[Path] = []
    for index, step in enumerate(plan.steps):
        found = _resolve(path, step.experiment)
        if found is None:
            issues.append(
                document.issue(("steps", index, "experiment"), f"{step.experiment} not found")
            )
            continue
        try:
            experiments.append(load_experiment(found, step.vars))
        except ExperimentError as exc:
            issues.extend(exc.issues)
            continue
        paths.append(found)
    if issues:
        raise PlanError(issues)
    return LoadedPlan(path, plan, experiments, paths, facilitation)
