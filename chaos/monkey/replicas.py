"""The monkey's view of the local mesh: which replicas exist, which are alive, killing one,
and confirming that the supervisor replaced a killed one (the ledger's "undo" of a kill).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from chaos.monkey.errors import MonkeyError
from chaos.monkey.monkey import Replica

if TYPE_CHECKING:
    from chaos.targets.launcher import MeshState


def load_state(state_path: Path | None) -> MeshState:
    from chaos.targets.launcher import MeshNotRunning, load_mesh_state

    try:
        return load_mesh_state(state_path)
    except MeshNotRunning as exc:
        raise MonkeyError(f"no running mesh: {exc}; start one with `gameday mesh up`") from exc


def mesh_replicas(state_path: Path | None) -> list[Replica]:
    """The replicas of the running mesh, read afresh (the supervisor rewrites pids).

    Only processes that descend from the mesh's owner are listed, so a stale state file can
    never point the monkey at an unrelated process that reused a pid.
    """
    state = load_state(state_path)
    return [
        Replica(service=name, index=replica.index, pid=replica.pid)
        for name, service in state.services.items()
        for replica in service.replicas
        if descends_from(replica.pid, state.owner_pid)
    ]


def descends_from(pid: int, ancestor: int) -> bool:
    try:
        return ancestor in {parent.pid for parent in psutil.Process(pid).parents()}
    except psutil.Error:
        return False


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def send_signal(pid: int, sig: int) -> None:
    # It may die between the liveness check and the kill: the outcome the monkey wanted.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def confirm_replaced(
    service: str,
    index: int,
    killed_pid: int,
    mesh_state: str | None = None,
    timeout_s: float = 30.0,
) -> int:
    """Wait until replica `index` of `service` runs under a new, live pid; return that pid.

    Idempotent, so `gameday rollback` can call it for a monkey kill at any later time.
    """
    deadline = time.monotonic() + timeout_s
    path = Path(mesh_state) if mesh_state else None
    while True:
        for replica in mesh_replicas(path):
            if (
                replica.service == service
                and replica.index == index
                and replica.pid != killed_pid
                and pid_alive(replica.pid)
            ):
                return replica.pid
        if time.monotonic() >= deadline:
            raise MonkeyError(
                f"{service} replica {index} was not replaced within {timeout_s:g} s "
                f"(killed pid {killed_pid})"
            )
        time.sleep(0.2)
