"""Time to recover on a Kubernetes cluster: seconds until a label set's pods are ready.

The Kubernetes twin of `chaos.probes.replicas.seconds_until_ready`, which the engine maps
to it when an experiment runs with `--target k8s` (see `chaos.engine.k8s_target`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.probes.kubernetes import DEFAULT_NAMESPACE, _ready_counts
from chaos.probes.ready_wait import seconds_until_enough_ready

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
    return seconds_until_enough_ready(
        lambda: _ready_counts(label_selector, namespace, configuration),
        lambda ready, live: f"{label_selector}: {ready} of {live} pods ready in {namespace}",
        min_ready,
        timeout_s,
        poll_s,
    )
