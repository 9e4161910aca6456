"""Where a provider finds its target: the engine's configuration first, then the mesh state.

The engine injects `gameday_proxy_api` and `gameday_mesh_state` into the experiment's
configuration; under a plain `chaos run` the providers fall back to the mesh state file
(env `GAMEDAY_MESH_STATE`, else `.gameday/mesh.json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.faults.errors import TargetUnknown

if TYPE_CHECKING:
    from chaos.targets.launcher import MeshState

PROXY_API_KEY = "gameday_proxy_api"
MESH_STATE_KEY = "gameday_mesh_state"


def find_mesh_state(configuration: Mapping[str, Any] | None = None) -> MeshState:
    """The running mesh's state; raises `TargetUnknown` when no mesh is running."""
    from chaos.targets.launcher import MeshNotRunning, load_mesh_state

    configured = (configuration or {}).get(MESH_STATE_KEY)
    try:
        return load_mesh_state(Path(configured) if configured else None)
    except MeshNotRunning as exc:
        raise TargetUnknown(
            f"no running mesh found ({exc}); start one with `gameday mesh up` or set "
            f"configuration {MESH_STATE_KEY!r}"
        ) from exc


def find_proxy_api(
    configuration: Mapping[str, Any] | None = None, proxy_api: str | None = None
) -> str:
    """The fault proxy API URL: the explicit argument, configuration `gameday_proxy_api`,
    else the running mesh's state file."""
    if proxy_api:
        return proxy_api.rstrip("/")
    configured = (configuration or {}).get(PROXY_API_KEY)
    if configured:
        return str(configured).rstrip("/")
    try:
        return find_mesh_state(configuration).proxy_api.rstrip("/")
    except TargetUnknown as exc:
        raise TargetUnknown(
            f"cannot find the fault proxy API: set configuration {PROXY_API_KEY!r} or the "
            f"`proxy_api` argument, or start the mesh ({exc})"
        ) from exc
