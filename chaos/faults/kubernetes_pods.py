"""Which pods a Kubernetes fault acts on: the live ones, the ready ones, how many."""

from __future__ import annotations

import math
from typing import Literal

from kubernetes import client as k8s

from chaos.faults.errors import InvalidFaultArgument

KillMode = Literal["one", "all", "count", "percent"]


def is_ready(pod: k8s.V1Pod) -> bool:
    if pod.metadata and pod.metadata.deletion_timestamp is not None:
        return False
    conditions = (pod.status.conditions or []) if pod.status else []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def live_pods(pods: list[k8s.V1Pod]) -> list[k8s.V1Pod]:
    """Pods not already on their way out."""
    return [
        pod
        for pod in pods
        if pod.metadata is not None
        and pod.metadata.deletion_timestamp is None
        and (pod.status is None or pod.status.phase not in ("Succeeded", "Failed"))
    ]


def pod_names(pods: list[k8s.V1Pod]) -> list[str]:
    return sorted(str(pod.metadata.name) for pod in pods if pod.metadata)


def how_many(mode: str, total: int, count: int | None, percent: float | None) -> int:
    if mode == "one":
        return min(1, total)
    if mode == "all":
        return total
    if mode == "count":
        if count is None or count < 1:
            raise InvalidFaultArgument(f"mode 'count' needs count >= 1, not {count}")
        return min(count, total)
    if mode == "percent":
        if percent is None or not 0 < percent <= 100:
            raise InvalidFaultArgument(f"mode 'percent' needs 0 < percent <= 100, not {percent}")
        # At least one pod: "kill 10% of 3 pods" should kill something.
        return min(total, max(1, math.floor(total * percent / 100)))
    raise InvalidFaultArgument(f"mode must be 'one', 'all', 'count' or 'percent', not {mode!r}")
