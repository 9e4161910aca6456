"""Why a mesh did not start."""

from __future__ import annotations

from pathlib import Path

LOOPBACK = "127.0.0.1"


class MeshStartError(Exception):
    """The mesh could not be started (everything started so far was stopped again)."""


class MeshNotStarted(MeshStartError):
    """The machine cannot host the mesh as asked; nothing was started."""


class PortInUse(MeshNotStarted):
    """A port the topology fixes is already taken."""

    def __init__(self, topology_source: str, busy: list[tuple[str, int]]) -> None:
        ports = ", ".join(f"{port} ({field})" for field, port in busy)
        super().__init__(
            f"port(s) {ports} of the topology {topology_source} already in use on "
            f"{LOOPBACK}; nothing was started: stop what listens there (`ss -ltnp`) or set "
            "the port to 0 for any free one"
        )
        self.busy = busy


class MeshFilesUnwritable(MeshNotStarted):
    """The state folder or the state file's folder cannot be written."""

    def __init__(self, what: str, folder: Path, why: str) -> None:
        super().__init__(
            f"the mesh's {what} {folder} cannot be written ({why}); nothing was started "
            "(choose another with --state-dir / --state-file)"
        )
        self.folder = folder
