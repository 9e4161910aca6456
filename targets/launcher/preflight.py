"""What a mesh needs from the machine, checked before any part of it starts: the fixed
ports its topology asks for are free, and its state folder and state file can be written.

Ports are ephemeral unless a topology sets them; a fixed one that something else already
listens on would otherwise fail only after half of the mesh had started, with a listener's
error, and a state folder that cannot be written would fail with a traceback.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from chaos.targets.launcher.errors import LOOPBACK, MeshFilesUnwritable, PortInUse
from chaos.targets.shop.topology import Topology


def _free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The mesh binds with SO_REUSEADDR too: only a live listener makes a port busy,
        # not connections of an earlier mesh still in TIME_WAIT.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def busy_ports(topology: Topology) -> list[tuple[str, int]]:
    """(topology field, port) for every fixed port of `topology` that is already taken."""
    wanted = [("public_port", topology.public_port)] + [
        (f"services.{name}.port", spec.port) for name, spec in topology.services.items()
    ]
    return [(field, port) for field, port in wanted if port and not _free(port)]


def _unwritable(folder: Path) -> str | None:
    """Why no file can be created in `folder` (made if missing), or None."""
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".gameday-write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def check_mesh_can_start(topology: Topology, state_dir: Path, state_file: Path) -> None:
    """Raise `PortInUse` or `MeshFilesUnwritable` when the mesh could not start here."""
    busy = busy_ports(topology)
    if busy:
        raise PortInUse(topology.source, busy)
    for what, folder in (("state folder", state_dir), ("state file folder", state_file.parent)):
        why = _unwritable(Path(folder))
        if why is not None:
            raise MeshFilesUnwritable(what, Path(folder), why)
