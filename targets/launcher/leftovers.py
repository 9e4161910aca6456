"""What a running mesh still carries from earlier faults: toxics and disabled proxies on
its edges, paused replicas, and circuit breakers that are open.

Faults left behind are defects of whoever applied them; an open breaker is the shop
remembering a fault that has already been lifted (it closes on the first call after its
reset timeout). Experiments and tests that share one mesh check both between runs, so
one run's fault never shows up as the next run's failure.
"""

from __future__ import annotations

import time

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from chaos.proxy import ToxiproxyClient
from chaos.targets.launcher.state import MeshState

BREAKER_METRIC = "shop_circuit_breaker_state"
BREAKER_OPEN = 2.0


class MeshNotSettled(Exception):
    """The mesh still carries a fault, or a breaker stayed open past the wait."""


def leftover_faults(state: MeshState, timeout_s: float = 5.0) -> list[str]:
    """Every toxic, disabled proxy and paused replica of the mesh, one line each."""
    found: list[str] = []
    with ToxiproxyClient(state.proxy_api, timeout=timeout_s) as client:
        for name, proxy in sorted(client.proxies().items()):
            if not proxy.enabled:
                found.append(f"proxy {name} is disabled")
            found.extend(f"toxic {toxic.name} ({toxic.type}) on {name}" for toxic in proxy.toxics)
    for service, info in sorted(state.services.items()):
        for replica in info.replicas:
            try:
                paused = psutil.Process(replica.pid).status() == psutil.STATUS_STOPPED
            except psutil.Error:
                continue  # gone: the supervisor is replacing it
            if paused:
                found.append(f"replica {service}#{replica.index} (pid {replica.pid}) is paused")
    return found


def open_breakers(state: MeshState, timeout_s: float = 5.0) -> list[str]:
    """`SERVICE#INDEX EDGE` for every breaker a replica reports open (half-open counts as
    settled: its next call is a trial). A replica that does not answer is skipped."""
    found: list[str] = []
    for service, info in sorted(state.services.items()):
        for replica in info.replicas:
            url = f"http://127.0.0.1:{replica.port}/metrics"
            try:
                text = httpx.get(url, timeout=timeout_s, trust_env=False).text
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(text):
                if family.name != BREAKER_METRIC:
                    continue
                found.extend(
                    f"{service}#{replica.index} {sample.labels.get('edge', '?')}"
                    for sample in family.samples
                    if sample.value >= BREAKER_OPEN
                )
    return found


def wait_until_settled(state: MeshState, timeout_s: float = 30.0) -> None:
    """Return once the mesh carries no fault and no replica reports an open breaker.

    A fault left applied raises at once (waiting would not lift it); open breakers are
    waited for, since each closes on the first call after its reset timeout."""
    faults = leftover_faults(state)
    if faults:
        raise MeshNotSettled("the mesh still carries faults: " + "; ".join(faults))
    deadline = time.monotonic() + timeout_s
    while still_open := open_breakers(state):
        if time.monotonic() >= deadline:
            raise MeshNotSettled(
                f"circuit breakers still open after {timeout_s:.0f} s: " + ", ".join(still_open)
            )
        time.sleep(0.2)
