"""The mesh state file: where a running mesh's services, replicas, edges and fault proxy
are, so other commands (faults, probes, the monkey, `gameday run`) can find it.

Default path `.gameday/mesh.json` under the working directory, overridden by env
`GAMEDAY_MESH_STATE`. The owner rewrites it atomically whenever a replica's pid or port
changes.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "DEFAULT_STATE_PATH",
    "STATE_ENV",
    "EdgeState",
    "MeshNotRunning",
    "MeshState",
    "ReplicaState",
    "ServiceState",
    "default_state_path",
    "load_mesh_state",
    "write_state",
]

STATE_ENV = "GAMEDAY_MESH_STATE"
DEFAULT_STATE_PATH = Path(".gameday") / "mesh.json"


class MeshNotRunning(Exception):
    """No mesh is running at the given state file (missing, unreadable or stale)."""


class ReplicaState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: int
    pid: int
    port: int
    restarts: int = 0


class ServiceState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    address: str  # "127.0.0.1:P": the service's balancer, its stable address
    replicas: list[ReplicaState]


class EdgeState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    listen: str  # the fault-proxy listener callers dial
    upstream: str  # the callee's balancer


class MeshState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    owner_pid: int
    owner_create_time: float | None = None  # tells the owner from a process reusing its pid
    started_at: datetime
    state_dir: str
    topology: str
    proxy_api: str
    gateway_url: str
    services: dict[str, ServiceState]
    edges: dict[str, EdgeState] = Field(default_factory=dict)
    prometheus_url: str | None = None  # the mesh's own Prometheus, when started with it

    def owner_alive(self) -> bool:
        try:
            owner = psutil.Process(self.owner_pid)
            if owner.status() == psutil.STATUS_ZOMBIE:
                return False
            if self.owner_create_time is None:
                return True
            return abs(owner.create_time() - self.owner_create_time) < 1.0
        except psutil.Error:
            return False


def default_state_path() -> Path:
    """env `GAMEDAY_MESH_STATE`, else `.gameday/mesh.json` under the working directory."""
    configured = os.environ.get(STATE_ENV)
    return Path(configured) if configured else DEFAULT_STATE_PATH


def load_mesh_state(path: Path | None = None) -> MeshState:
    """The state of the mesh running at `path` (default: `default_state_path()`).

    Raises `MeshNotRunning` if the file is missing or unreadable or its owner is gone."""
    path = Path(path) if path is not None else default_state_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MeshNotRunning(f"no mesh state file at {path}") from None
    except OSError as exc:
        raise MeshNotRunning(f"cannot read the mesh state file {path}: {exc.strerror}") from exc
    try:
        state = MeshState.model_validate_json(text)
    except ValidationError as exc:
        raise MeshNotRunning(f"{path} is not a mesh state file: {exc.errors()[0]['msg']}") from exc
    if not state.owner_alive():
        raise MeshNotRunning(
            f"the mesh in {path} is not running (its owner, pid {state.owner_pid}, is gone)"
        )
    return state


def write_state(path: Path, state: MeshState) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(state.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, path)
