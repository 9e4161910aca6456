"""Prepare the target of a run: start the local mesh, attach to a running one, or name a
Kubernetes context."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.experiment.models import Target

MESH_STATE_ENV = "GAMEDAY_MESH_STATE"
DEFAULT_MESH_STATE = Path(".gameday") / "mesh.json"
K8S_CONTEXT_KEY = "k8s_context"


class CouldNotRun(Exception):
    """The target or the load could not be brought up; nothing was injected."""


@dataclass
class PreparedTarget:
    kind: str
    gateway_url: str | None = None
    proxy_api: str | None = None
    prometheus_url: str | None = None
    state_path: Path | None = None
    services: dict[str, Any] = field(default_factory=dict)
    configuration: dict[str, Any] = field(default_factory=dict)
    handle: Any = None

    def close(self) -> None:
        """Stop the mesh if this run started it."""
        if self.handle is not None:
            handle, self.handle = self.handle, None
            handle.stop()

    @property
    def label(self) -> str:
        return (
            self.kind
            if self.kind != "k8s"
            else f"k8s:{self.configuration.get(K8S_CONTEXT_KEY) or 'current'}"
        )


def mesh_state_path(configured: str | None = None) -> Path:
    if configured:
        return Path(configured)
    return Path(os.environ.get(MESH_STATE_ENV) or DEFAULT_MESH_STATE)


def resolve_target(target: Target, override: str | None) -> Target:
    """The experiment's `target` as `--target` (or env `GAMEDAY_TARGET`) `override` makes it:
    the same kind keeps everything the file says about it (a local mesh's Prometheus and
    topology overrides, a cluster's context unless the override names one); another kind
    keeps the file's replicas and topology. Raises ValueError for a malformed override."""
    if not override:
        return target
    chosen = Target.parse(override)
    if chosen.kind == target.kind:
        return target.model_copy(update={"context": chosen.context or target.context})
    return chosen.model_copy(update={"replicas": target.replicas, "topology": target.topology})


def _from_state(kind: str, state: Any, state_path: Path, handle: Any = None) -> PreparedTarget:
    return PreparedTarget(
        kind=kind,
        gateway_url=state.gateway_url,
        proxy_api=state.proxy_api,
        prometheus_url=getattr(state, "prometheus_url", None),
        state_path=state_path,
        services={name: svc for name, svc in state.services.items()},
        handle=handle,
    )


def _state_file_of(handle: Any, state_dir: Path) -> Path:
    for attribute in ("state_path", "state_file"):
        value = getattr(handle, attribute, None)
        if value:
            return Path(value)
    candidates = sorted(state_dir.glob("*.json"))
    if candidates:
        return candidates[0]
    path = state_dir / "mesh.json"
    path.write_text(handle.state.model_dump_json(indent=2), encoding="utf-8")
    return path


def _overrides_parameter(start_mesh: Any) -> str:
    parameters = inspect.signature(start_mesh).parameters
    for name in ("topology_overrides", "overrides"):
        if name in parameters:
            return name
    raise CouldNotRun("this mesh launcher does not accept topology overrides")


def prepare_target(
    target: Target, run_dir: Path, configuration: dict[str, Any] | None = None
) -> PreparedTarget:
    """Bring the target up (blocking until ready); `CouldNotRun` when it cannot.

    `configuration` (the experiment's) tells a Kubernetes target where the cluster is and
    which namespaces must be there; the cluster is checked, nothing is changed."""
    if target.kind == "none":
        return PreparedTarget(kind="none")
    if target.kind == "k8s":
        from chaos.engine.k8s_target import check_cluster

        context = {K8S_CONTEXT_KEY: target.context} if target.context else {}
        check_cluster({**(configuration or {}), **context})
        return PreparedTarget(kind="k8s", configuration=context)
    try:
        from chaos.targets.launcher import MeshNotRunning, load_mesh_state, start_mesh
    except ImportError as exc:
        raise CouldNotRun(f"the mesh launcher is not available: {exc}") from exc
    if target.kind == "mesh":
        path = mesh_state_path(target.mesh_state)
        try:
            state = load_mesh_state(path)
        except MeshNotRunning as exc:
            raise CouldNotRun(
                f"no running mesh ({exc}); start one with `gameday mesh up` or use --target local"
            ) from exc
        return _from_state("mesh", state, path)
    state_dir = run_dir / "mesh"
    state_dir.mkdir(parents=True, exist_ok=True)
    topology = Path(target.topology) if target.topology else None
    kwargs: dict[str, Any] = {"replicas": dict(target.replicas)}
    if target.prometheus:
        kwargs["prometheus"] = True
    if target.topology_overrides:
        kwargs[_overrides_parameter(start_mesh)] = target.topology_overrides
    try:
        handle = start_mesh(state_dir=state_dir, topology=topology, **kwargs)
    except Exception as exc:
        raise CouldNotRun(f"the local mesh did not start: {type(exc).__name__}: {exc}") from exc
    try:
        return _from_state("local", handle.state, _state_file_of(handle, state_dir), handle)
    except Exception:
        handle.stop()
        raise
