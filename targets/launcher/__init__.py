"""Runs the sample shop on one machine: replicas as local processes (forked by a
zygote, kept alive by a supervisor), a balancer per service, every edge through the
fault proxy, and a state file other commands find it by.

    from chaos.targets.launcher import (
        start_mesh, MeshHandle, load_mesh_state, MeshState, MeshNotRunning
    )
"""

from chaos.targets.launcher.mesh import (
    MeshAlreadyRunning,
    MeshFilesUnwritable,
    MeshHandle,
    MeshNotStarted,
    MeshStartError,
    PortInUse,
    start_mesh,
)
from chaos.targets.launcher.state import (
    EdgeState,
    MeshNotRunning,
    MeshState,
    ReplicaState,
    ServiceState,
    default_state_path,
    load_mesh_state,
)

__all__ = [
    "EdgeState",
    "MeshAlreadyRunning",
    "MeshFilesUnwritable",
    "MeshHandle",
    "MeshNotStarted",
    "MeshNotRunning",
    "MeshStartError",
    "MeshState",
    "PortInUse",
    "ReplicaState",
    "ServiceState",
    "default_state_path",
    "load_mesh_state",
    "start_mesh",
]
