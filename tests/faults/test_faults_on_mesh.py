"""End to end: our faults and probes against the real sample mesh (slow)."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.faults import expiry, network, process
from chaos.probes import invariants
from chaos.probes.http import http_json, http_status
from chaos.probes.replicas import replicas_ready, seconds_until_ready
from chaos.safety.ledger import Ledger, undo_entry, undo_outstanding
from chaos.targets.launcher import load_mesh_state, start_mesh
from chaos.targets.launcher.leftovers import wait_until_settled

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("mesh")
    with start_mesh(state_dir=state_dir, replicas={"catalog": 2}) as handle:
        yield {"state": handle.state, "state_file": handle.state_file, "dir": state_dir}


@pytest.fixture
def cfg(mesh: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, str]]:
    # Only the mesh state: the proxy API and the gateway are found through it.
    cfg = {
        "gameday_mesh_state": str(mesh["state_file"]),
        "gameday_ledger": str(tmp_path / "ledger.jsonl"),
    }
    try:
        yield cfg
    finally:
        undo_outstanding(Ledger(cfg["gameday_ledger"]))
        for proc in expiry.running_watchdogs():
            proc.wait(10)
        # The tests share one mesh: the next one starts with no fault and no open breaker.
        wait_until_settled(load_mesh_state(mesh["state_file"]))


@pytest.fixture
def shop(mesh: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh["state"].gateway_url, timeout=20) as client:
        yield client


def checkout(shop: httpx.Client) -> tuple[int, float]:
    started = time.monotonic()
    response = shop.post(
        "/checkout",
        json={"items": [{"product_id": 1, "quantity": 1}]},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    return response.status_code, time.monotonic() - started


def timed_get(shop: httpx.Client, path: str) -> tuple[int, float]:
    started = time.monotonic()
    response = shop.get(path)
    return response.status_code, time.monotonic() - started


def test_latency_on_orders_to_payments_slows_checkout_only(shop, cfg) -> None:
    assert checkout(shop)[0] == 201
    network.add_latency(latency_ms=600, edge="orders->payments", ttl_s=60, configuration=cfg)
    status, seconds = checkout(shop)
    assert status == 201 and seconds >= 0.6
    browsing = [timed_get(shop, "/products") for _ in range(5)]
    assert [status for status, _ in browsing] == [200] * 5
    # Browsing never crosses orders->payments: its median stays far below the 600 ms.
    assert statistics.median(seconds for _, seconds in browsing) < 0.6, browsing
    network.remove_toxics(edge="orders->payments", configuration=cfg)
    assert Ledger(cfg["gameday_ledger"]).outstanding() == []


def test_recommendations_refused_falls_back(shop, cfg) -> None:
    assert http_json("/products/1", configuration=cfg)["recommendations_source"] == "live"
    network.partition(service="recommendations", mode="refuse", ttl_s=60, configuration=cfg)
    assert http_status("/products/1", configuration=cfg) == 200
    assert http_json("/products/1", configuration=cfg)["recommendations_source"] == "fallback"
    network.heal_partition(service="recommendations", configuration=cfg)
    deadline = time.monotonic() + 30  # the breaker half-opens after its reset timeout
    source = "fallback"
    while source != "live" and time.monotonic() < deadline:
        time.sleep(0.5)
        source = http_json("/products/1", configuration=cfg)["recommendations_source"]
    assert source == "live"


def test_killed_catalog_replica_is_replaced(shop, cfg) -> None:
    result = process.kill_replicas("catalog", count=1, configuration=cfg)
    assert len(result["killed"]) == 1 and result["still_running"] == []
    assert timed_get(shop, "/products")[0] == 200  # the other replica serves
    assert seconds_until_ready("catalog", timeout_s=30, configuration=cfg) < 30
    assert replicas_ready("catalog", configuration=cfg) == 2


def test_paused_payments_hang_checkout_until_resumed(shop, cfg) -> None:
    process.pause_replicas("payments", percent=100, ttl_s=60, configuration=cfg)
    status, _ = checkout(shop)
    assert status in (503, 504)  # the saga gave up on payments and compensated
    ledger = Ledger(cfg["gameday_ledger"])
    [entry] = ledger.outstanding()
    undo_entry(entry, ledger)
    deadline = time.monotonic() + 30  # the breaker on orders->payments may be open
    status = 0
    while status != 201 and time.monotonic() < deadline:
        time.sleep(0.5)
        status = checkout(shop)[0]
    assert status == 201


def test_notifications_outage_grows_the_outbox_then_drains(shop, cfg, tmp_path: Path) -> None:
    acks = tmp_path / "acks.jsonl"
    audited = {**cfg, "gameday_ack_file": str(acks)}
    network.partition(service="notifications", mode="refuse", ttl_s=60, configuration=cfg)
    with acks.open("a") as handle:
        for _ in range(5):
            key = str(uuid.uuid4())
            response = shop.post(
                "/checkout",
                json={"items": [{"product_id": 2, "quantity": 1}]},
                headers={"Idempotency-Key": key},
            )
            # checkout does not wait for notifications
            assert response.status_code == 201, response.text
            order = response.json()
            handle.write(
                json.dumps({"order_id": order["order_id"], "idempotency_key": key, "ts": 0}) + "\n"
            )
    assert invariants.outbox_backlog(configuration=audited) >= 5
    network.heal_partition(service="notifications", configuration=cfg)
    assert invariants.outbox_drains_within(timeout_s=60, configuration=audited) >= 0
    assert invariants.outbox_backlog(configuration=audited) == 0
    assert invariants.invariants_hold(configuration=audited) is True
