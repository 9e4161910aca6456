"""The fixed ports a topology asks for, checked before any part of the mesh starts.

Ports are ephemeral unless a topology sets them; a fixed one that something else already
listens on would fail only after half of the mesh had started, with a listener's error.
"""

from __future__ import annotations

import socket

from targets.shop.topology import Topology

LOOPBACK = "127.0.0.1"


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
