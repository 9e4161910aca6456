"""Load an experiment file: parse with line numbers, apply vars, substitute, validate."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaos.experiment.errors import ExperimentError, Issue
from chaos.experiment.extension import (
    extension_issues,
    model_fields,
    normalise,
    settings_path,
)
from chaos.experiment.models import Activity, Experiment
from chaos.experiment.providers import check_python_provider
from chaos.experiment.source import Document, FieldPath, read_document
from chaos.experiment.tolerance import check_tolerance
from chaos.experiment.variables import (
    collect_variables,
    resolve_configuration,
    secret_names,
    substitute,
)

HYPOTHESIS_KEY = "steady-state-hypothesis"


@dataclass
class LoadedExperiment:
    """A validated experiment: the typed model and the plain dict the Chaos Toolkit runs."""

    path: Path
    model: Experiment
    data: dict[str, Any]
    secrets: dict[str, dict[str, Any]]

    @property
    def title(self) -> str:
        return self.model.title


def _error_path(data: Any, loc: tuple[Any, ...]) -> FieldPath:
    """Drop pydantic's union/validator tags from an error location, keeping real fields."""
    path: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif index == len(loc) - 1 and isinstance(part, str) and isinstance(current, dict):
            path.append(part)  # a missing field: name it
    return tuple(path)


def validation_message(error: Mapping[str, Any]) -> str:
    """One pydantic error in the words a person editing the file would use."""
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return error["msg"].removeprefix("Value error, ")


def _model_issues(document: Document, data: dict[str, Any], exc: ValidationError) -> list[Issue]:
    return [
        document.issue(
            settings_path(document.data, _error_path(data, tuple(error.get("loc", ())))),
            validation_message(error),
        )
        for error in exc.errors()
    ]


def _activities(model: Experiment) -> list[tuple[FieldPath, Activity]]:
    found: list[tuple[FieldPath, Activity]] = []
    if model.steady_state_hypothesis:
        found += [
            ((HYPOTHESIS_KEY, "probes", i), a)
            for i, a in enumerate(model.steady_state_hypothesis.probes)
        ]
    found += [(("method", i), a) for i, a in enumerate(model.method)]
    found += [(("rollbacks", i), a) for i, a in enumerate(model.rollbacks)]
    return found


def _semantic_issues(document: Document, model: Experiment) -> list[Issue]:
    issues: list[Issue] = []
    activities = _activities(model)
    names = {a.name for _, a in activities if a.name}
    for path, activity in activities:
        if activity.ref is not None and activity.ref not in names:
            issues.append(document.issue((*path, "ref"), f"no activity named {activity.ref!r}"))
        provider = activity.provider
        if provider is not None and provider.type == "python":
            assert provider.module and provider.func
            arguments = provider.arguments if isinstance(provider.arguments, dict) else {}
            issues += check_python_provider(
                document, (*path, "provider"), provider.module, provider.func, arguments
            )
        if path[0] == HYPOTHESIS_KEY and activity.ref is None:
            issues += check_tolerance(document, (*path, "tolerance"), activity.tolerance)
    issues += _topology_issues(document, model)
    if model.runbook and _find_runbook(document.path, model.runbook) is None:
        issues.append(
            document.issue(
                settings_path(document.data, ("runbook",)), f"runbook {model.runbook!r} not found"
            )
        )
    return issues


def _topology_issues(document: Document, model: Experiment) -> list[Issue]:
    """A local mesh's topology, overrides and replica counts must load."""
    target = model.target
    if target.kind != "local" or not (
        target.topology or target.topology_overrides or target.replicas
    ):
        return []
    from chaos.targets.shop.topology import TopologyError, load_topology

    try:
        load_topology(target.topology, target.topology_overrides or None, target.replicas)
    except TopologyError as exc:
        field = "topology_overrides" if target.topology_overrides else "replicas"
        return [document.issue(settings_path(document.data, ("target", field)), str(exc))]
    return []


def _chaostoolkit_issues(document: Document, data: dict[str, Any]) -> list[Issue]:
    """The Chaos Toolkit's own validation, as a backstop: `chaos run` must accept the file."""
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    # Its validator assumes these sections are mappings or lists and crashes on an explicit null.
    nulls = [key for key in _NULLABLE_SECTIONS if key in data and data[key] is None]
    if nulls:
        return [
            document.issue((key,), "is empty (null): give it content or remove the key")
            for key in nulls
        ]
    try:
        ensure_experiment_is_valid(copy.deepcopy(data))
    except ChaosException as exc:
        return [document.issue((), f"the Chaos Toolkit rejects this experiment: {exc}")]
    except (AttributeError, TypeError, KeyError) as exc:
        return [document.issue((), f"the Chaos Toolkit cannot read this experiment: {exc!r}")]
    return []


_NULLABLE_SECTIONS = ("steady-state-hypothesis", "method", "rollbacks", "configuration", "secrets")


def _find_runbook(experiment_path: Path, runbook: str) -> Path | None:
    here = experiment_path.resolve().parent
    for base in (here, here.parent, Path.cwd()):
        candidate = base / runbook
        if candidate.is_file():
            return candidate
    return None


def load_experiment(
    path: Path | str,
    vars: Mapping[str, Any] | None = None,
    var_files: list[Path] | None = None,
) -> LoadedExperiment:
    """Load and validate `path`; raise `ExperimentError` listing every located problem."""
    path = Path(path)
    document = read_document(path)
    if not isinstance(document.data, dict):
        raise ExperimentError([document.issue((), "an experiment is a mapping (title, method…)")])
    variables = collect_variables(dict(vars or {}), [Path(p) for p in var_files or []])
    configuration = resolve_configuration(document, variables)
    secrets_known = secret_names(document, variables)
    issues: list[Issue] = []
    data: dict[str, Any] = {}
    for key, value in document.data.items():
        if key in ("configuration", "secrets"):
            data[key] = copy.deepcopy(value)
        else:
            data[key] = substitute(document, value, (key,), configuration, secrets_known, issues)
    data["configuration"] = configuration
    issues += extension_issues(document, data)
    if issues:
        raise ExperimentError(issues)
    data = normalise(path, data)
    fields = model_fields(data)
    try:
        model = Experiment.model_validate(fields)
    except ValidationError as exc:
        raise ExperimentError(_model_issues(document, fields, exc)) from exc
    issues = _semantic_issues(document, model) or _chaostoolkit_issues(document, data)
    if issues:
        raise ExperimentError(issues)
    secrets = copy.deepcopy(document.data.get("secrets") or {})
    for scope, values in variables.secrets.items():
        secrets.setdefault(scope, {}).update(values)
    return LoadedExperiment(path=path, model=model, data=data, secrets=secrets)
