"""Before a run: the experiment loaded and checked for its target, and the dry-run plan.
Nothing here starts or changes a target; a dry run only reads from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.engine import k8s_target
from chaos.engine.target import CouldNotRun, mesh_state_path, resolve_target
from chaos.experiment import ExperimentError, Issue, LoadedExperiment, Target, load_experiment
from chaos.safety.dry_run import Plan, build_plan


def _resolve_target(loaded: LoadedExperiment, override: str | None) -> Target:
    try:
        return resolve_target(loaded.model.target, override)
    except ValueError as exc:
        raise ExperimentError([Issue(loaded.path, None, "--target", str(exc))]) from exc


def plan_experiment(loaded: LoadedExperiment, target: Target) -> Plan:
    """The dry-run plan; reads a running mesh's state file when there is one."""
    if target.kind == "k8s":
        configuration = k8s_target.cluster_configuration(loaded, target)
        try:
            k8s_target.check_cluster(configuration)
        except CouldNotRun as exc:
            return build_plan(
                loaded,
                target,
                resolve=k8s_target.dry_run_resolver(configuration, str(exc)),
                unreachable=str(exc),
            )
        return build_plan(loaded, target, resolve=k8s_target.dry_run_resolver(configuration))
    state = None
    if target.kind in ("local", "mesh"):
        try:
            from chaos.targets.launcher import load_mesh_state

            state = load_mesh_state(mesh_state_path(target.mesh_state))
        except Exception:  # noqa: BLE001 - no mesh running: the plan says so
            state = None
    return build_plan(loaded, target, state)


def load_for_target(
    path: Path | str,
    vars: dict[str, Any] | None,
    var_files: list[Path] | None,
    target_override: str | None,
    shared_load: bool = False,
) -> tuple[LoadedExperiment, Target]:
    loaded = load_experiment(Path(path), vars or {}, list(var_files or []))
    target = _resolve_target(loaded, target_override)
    if target.kind == "k8s":
        # One file, many targets: mesh providers become their Kubernetes equivalents.
        loaded = k8s_target.adapt_experiment(loaded, target, shared_load=shared_load)
    return loaded, target


def validate_experiment(
    path: Path | str,
    vars: dict[str, Any] | None = None,
    var_files: list[Path] | None = None,
    target: str | None = None,
) -> LoadedExperiment:
    """Every static check a run makes before it starts: the file itself and, for a
    Kubernetes target (the file's own, or `target`), the provider mapping, the blast
    radius and the gateway URL rules. Reads files and imports provider modules only: no
    cluster, mesh or load is contacted. Raises `ExperimentError` (located)."""
    return load_for_target(path, vars, var_files, target)[0]
