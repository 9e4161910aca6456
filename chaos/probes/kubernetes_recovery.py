"""Time to recover on a Kubernetes cluster: seconds until a label set's pods are ready.

The Kubernetes twin of `chaos.probes.replicas.seconds_until_ready`, which the engine maps
to it when an experiment runs with `--target k8s` (see `chaos.engine.k8s_target`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from chaos.probes.errors import InvalidProbeArgument, NotReady
from chaos.probes.kubernetes import DEFAULT_NAMESPACE, _ready_counts

__all__ = ["seconds_until_pods_ready"]

Configuration = Mapping[str, Any] | None


def seconds_until_pods_ready(
    label_selector: str | dict[str, str],
    namespace: str = DEFAULT_NAMESPACE,
    min_ready: int | None = None,
    timeout_s: float = 30,
    poll_s: float = 0.5,
    configuration: Configuration = None,
) -> float:
    """Wait until at least `min_ready` pods (default: every live pod, and at least one)
    matching the selector are Ready and return the seconds that took. Raises `NotReady`
    after `timeout_s`."""
    if not 0 < timeout_s <= 600:
        raise InvalidProbeArgument(f"timeout_s must be > 0 and <= 600, not {timeout_s}")
    if not 0 < poll_s <= timeout_s:
        raise InvalidProbeArgument(f"poll_s must be > 0 and <= timeout_s, not {poll_s}")
    if min_ready is not None and min_ready < 1:
        raise InvalidProbeArgument(f"min_ready must be >= 1, not {min_ready}")
    started = time.monotonic()
    for _ in range(int(timeout_s / poll_s) + 2):
        ready, live = _ready_counts(label_selector, namespace, configuration)
        if ready >= (min_ready if min_ready is not None else max(live, 1)):
            return round(time.monotonic() - started, 3)
        if time.monotonic() - started >= timeout_s:
            break
        time.sleep(poll_s)
    raise NotReady(
        f"{label_selector}: {ready} of {live} pods ready in {namespace} after {timeout_s} s "
        f"(wanted {min_ready or 'all'})"
    )
