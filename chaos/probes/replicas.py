"""Replica probes of the local mesh: how many replicas of a service answer `/readyz`.

Ports are re-read from the mesh state file on every check, because the supervisor
rewrites it when it restarts a replica.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from chaos.faults.errors import TargetUnknown
from chaos.faults.locate import find_mesh_state
from chaos.probes.errors import InvalidProbeArgument, ProbeTargetUnknown
from chaos.probes.ready_wait import seconds_until_enough_ready
from chaos.probes.transport import shared_client

__all__ = ["all_replicas_ready", "replicas_ready", "seconds_until_ready"]

READY_TIMEOUT_S = 1.0
Configuration = Mapping[str, Any] | None


def _ready_counts(service: str, timeout_s: float, configuration: Configuration) -> tuple[int, int]:
    """(replicas answering 200 on /readyz, replicas listed) for `service`."""
    try:
        state = find_mesh_state(configuration)
    except TargetUnknown as exc:
        raise ProbeTargetUnknown(str(exc)) from exc
    if service not in state.services:
        raise InvalidProbeArgument(
            f"no service {service!r} in the mesh (services: {sorted(state.services)})"
        )
    replicas = list(state.services[service].replicas)
    ready = 0
    client = shared_client()
    for replica in replicas:
        try:
            response = client.get(f"http://127.0.0.1:{replica.port}/readyz", timeout=timeout_s)
        except httpx.HTTPError:
            continue
        ready += response.status_code == 200
    return ready, len(replicas)


def replicas_ready(
    service: str, timeout_s: float = READY_TIMEOUT_S, configuration: Configuration = None
) -> int:
    """How many of `service`'s replicas answer 200 on `/readyz` within `timeout_s` each."""
    return _ready_counts(service, timeout_s, configuration)[0]


def all_replicas_ready(
    service: str, timeout_s: float = READY_TIMEOUT_S, configuration: Configuration = None
) -> bool:
    """True when every replica of `service` is ready."""
    ready, total = _ready_counts(service, timeout_s, configuration)
    return total > 0 and ready == total


def seconds_until_ready(
    service: str,
    min_ready: int | None = None,
    timeout_s: float = 30,
    poll_s: float = 0.25,
    configuration: Configuration = None,
) -> float:
    """Wait until at least `min_ready` replicas (default: all) of `service` are ready and
    return the seconds that took: the time to recover. Raises `NotReady` after
    `timeout_s`."""
    return seconds_until_enough_ready(
        lambda: _ready_counts(service, min(READY_TIMEOUT_S, poll_s * 4), configuration),
        lambda ready, total: f"{service}: {ready} of {total} replicas ready",
        min_ready,
        timeout_s,
        poll_s,
    )
