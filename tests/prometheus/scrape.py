"""Waiting on the real Prometheus: instant queries, a bounded poll, all replicas up."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chaos.targets.launcher import MeshHandle
from chaos.targets.launcher.prometheus import PROMETHEUS_ENV

SCRAPE_WAIT_S = 30.0


def require_prometheus() -> None:
    import os

    if not (os.environ.get(PROMETHEUS_ENV) or shutil.which("prometheus")):
        pytest.fail("no prometheus binary: apt-get install prometheus (.ci/run does)")


def instant(url: str, query: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=5.0)
    response.raise_for_status()
    return response.json()["data"]["result"]


def wait_for(predicate: Callable[[], Any], what: str, timeout_s: float = SCRAPE_WAIT_S) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout_s:g} s")


def replica_count(handle: MeshHandle) -> int:
    return sum(len(service.replicas) for service in handle.state.services.values())


def wait_all_up(handle: MeshHandle) -> None:
    url = handle.state.prometheus_url
    assert url is not None
    expected = replica_count(handle)

    def all_up() -> bool:
        result = instant(url, 'count(up{job="shop"} == 1)')
        return bool(result) and int(float(result[0]["value"][1])) == expected

    wait_for(all_up, f"Prometheus did not see all {expected} replicas up")
