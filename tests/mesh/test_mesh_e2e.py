"""The shop mesh end to end: real replica processes, balancers and fault-proxy edges.

One mesh serves the whole module (started once, stopped in the fixture's finally); each
test that injects a fault removes it in its own finally.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from chaos.proxy import ToxiproxyClient
from chaos.targets.launcher import MeshAlreadyRunning, MeshHandle, load_mesh_state, start_mesh
from chaos.targets.launcher.leftovers import wait_until_settled
from chaos.targets.shop.invariants import check_invariants

pytestmark = pytest.mark.slow

RATE_LIMIT = {"requests_per_s": 10, "burst": 40}
BREAKER_RESET_S = 2.0  # shorter than the bundled 5 s, so the tests wait less


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshHandle]:
    handle = start_mesh(
        tmp_path_factory.mktemp("mesh"),
        overrides={
            "services": {"gateway": {"rate_limit": RATE_LIMIT}},
            "defaults": {"edge": {"circuit_breaker": {"reset_timeout_s": BREAKER_RESET_S}}},
        },
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(autouse=True)
def settled(mesh: MeshHandle) -> Iterator[None]:
    """The tests share one mesh: none may leave a fault or an open breaker to the next."""
    yield
    wait_until_settled(load_mesh_state(mesh.state_file))


@pytest.fixture(scope="module")
def ack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("acks") / "acks.jsonl"


@pytest.fixture
def shop(mesh: MeshHandle) -> Iterator[httpx.Client]:
    # A fresh client identity per test keeps the gateway's rate limit out of the way.
    headers = {"X-Client-Id": f"test-{uuid.uuid4().hex[:8]}"}
    with httpx.Client(base_url=mesh.state.gateway_url, timeout=15, headers=headers) as client:
        yield client


@pytest.fixture
def proxy(mesh: MeshHandle) -> Iterator[ToxiproxyClient]:
    with ToxiproxyClient(mesh.state.proxy_api, timeout=5) as client:
        yield client


def check_out(shop: httpx.Client, ack_file: Path, key: str | None = None) -> httpx.Response:
    key = key or uuid.uuid4().hex
    response = shop.post(
        "/checkout",
        json={"items": [{"product_id": 2, "quantity": 1}]},
        headers={"Idempotency-Key": key},
    )
    if response.status_code in (200, 201):
        with ack_file.open("a") as f:
            f.write(json.dumps({"order_id": response.json()["order_id"], "idempotency_key": key}))
            f.write("\n")
    return response


def wait_for(condition, timeout: float, what: str, every: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_browse_cart_and_check_out_idempotently(
    mesh: MeshHandle, shop: httpx.Client, ack_file: Path
) -> None:
    products = shop.get("/products")
    assert products.status_code == 200 and products.headers["x-request-id"]
    assert {"id", "name", "price_cents"} <= set(products.json()[0])
    page = shop.get("/products/3", headers={"X-Request-Id": "trace-me"})
    assert page.status_code == 200 and page.headers["x-request-id"] == "trace-me"
    body = page.json()
    assert body["recommendations_source"] == "live" and body["recommendations"]
    assert body["stock"] > 0
    assert shop.get("/products/9999").status_code == 404

    cart = shop.post("/carts")
    assert cart.status_code == 201
    cart_id = cart.json()["cart_id"]
    added = shop.post(f"/carts/{cart_id}/items", json={"product_id": 3, "quantity": 2})
    assert added.json()["items"] == [{"product_id": 3, "quantity": 2}]
    key = uuid.uuid4().hex
    first = shop.post("/checkout", json={"cart_id": cart_id}, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    order = first.json()
    assert order["status"] == "confirmed" and order["total_cents"] == 2 * body["price_cents"]
    with ack_file.open("a") as f:
        f.write(json.dumps({"order_id": order["order_id"], "idempotency_key": key}) + "\n")
    again = shop.post("/checkout", json={"cart_id": cart_id}, headers={"Idempotency-Key": key})
    assert again.status_code == 200 and again.json()["order_id"] == order["order_id"]
    fetched = shop.get(f"/orders/{order['order_id']}")
    assert fetched.json()["status"] == "confirmed"
    stock_after = shop.get("/products/3").json()["stock"]
    assert stock_after == body["stock"] - 2  # charged and reserved once, not twice


def test_bad_checkouts_are_refused_without_side_effects(shop: httpx.Client) -> None:
    items = {"items": [{"product_id": 1, "quantity": 1}]}
    assert shop.post("/checkout", json=items).status_code == 400  # no Idempotency-Key
    unknown = shop.post(
        "/checkout", json={"items": [{"product_id": 999, "quantity": 1}]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    assert unknown.status_code == 422
    no_cart = shop.post(
        "/checkout", json={"cart_id": "nope"}, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert no_cart.status_code == 404
    too_many = shop.post(
        "/checkout", json={"items": [{"product_id": 1, "quantity": 100}] * 50},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    assert too_many.status_code == 201  # 5000 units: plenty of stock in the seed


def test_rate_limit_answers_429_with_retry_after(mesh: MeshHandle) -> None:
    headers = {"X-Client-Id": "greedy"}
    statuses = []
    with httpx.Client(base_url=mesh.state.gateway_url, timeout=10, headers=headers) as client:
        for _ in range(20 * RATE_LIMIT["burst"]):  # bounded, however slow the machine
            statuses.append(client.get("/products"))
            if statuses[-1].status_code == 429:
                break
    assert statuses[-1].status_code == 429, [r.status_code for r in statuses]
    assert int(statuses[-1].headers["retry-after"]) >= 1
    assert len(statuses) > RATE_LIMIT["burst"]  # the burst passed first
    assert all(r.status_code == 200 for r in statuses[:-1])


def test_killed_replica_keeps_serving_and_is_restarted(
    mesh: MeshHandle, shop: httpx.Client
) -> None:
    before = mesh.state.services["catalog"].replicas[0]
    os.kill(before.pid, signal.SIGKILL)
    # The balancer skips the dead replica; callers retry the odd reset connection.
    statuses = [shop.get("/products").status_code for _ in range(20)]
    assert statuses == [200] * 20

    def restarted():  # type: ignore[no-untyped-def]
        current = load_mesh_state(mesh.state_file).services["catalog"].replicas[0]
        return current if current.pid != before.pid and current.restarts == 1 else None

    after = wait_for(restarted, 20, "catalog replica 0 restarted")
    assert psutil.Process(after.pid).ppid() != os.getpid()  # forked by the zygote
    assert mesh.state.owner_pid in {p.pid for p in psutil.Process(after.pid).parents()}
    wait_for(lambda: mesh.replica_ready()["catalog"][0], 20, "restarted replica ready")
    assert httpx.get(f"http://127.0.0.1:{after.port}/readyz", timeout=5).status_code == 200
    record = (Path(mesh.state.state_dir) / "supervisor.jsonl").read_text().splitlines()
    assert json.loads(record[-1])["exit_code"] == -signal.SIGKILL


def test_checkouts_survive_an_orders_replica_kill_without_double_charges(
    mesh: MeshHandle, ack_file: Path
) -> None:
    def careful_customer(key: str) -> str | None:
        headers = {"X-Client-Id": f"careful-{key[:8]}"}
        with httpx.Client(base_url=mesh.state.gateway_url, timeout=15, headers=headers) as c:
            for _ in range(6):  # the same key on every retry, as the shop's clients do
                try:
                    response = check_out(c, ack_file, key)
                except httpx.TransportError:
                    continue
                if response.status_code in (200, 201):
                    return response.json()["order_id"]
                time.sleep(0.5)
        return None

    victim = mesh.state.services["orders"].replicas[0].pid
    keys = [uuid.uuid4().hex for _ in range(8)]
    with ThreadPoolExecutor(len(keys)) as pool:
        futures = [pool.submit(careful_customer, key) for key in keys]
        time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)
        order_ids = [future.result(timeout=120) for future in futures]
    assert None not in order_ids
    assert len(set(order_ids)) == len(keys)  # one order per key, however often it was sent
    for key, order_id in zip(keys, order_ids, strict=True):
        with httpx.Client(base_url=mesh.state.gateway_url, timeout=15) as c:
            again = check_out(c, ack_file, key)
        assert again.status_code == 200 and again.json()["order_id"] == order_id


def test_payments_latency_slows_checkout_but_not_browsing(
    shop: httpx.Client, proxy: ToxiproxyClient, ack_file: Path
) -> None:
    assert check_out(shop, ack_file).status_code == 201  # warm connections first
    proxy.add_toxic("orders->payments", "latency", attributes={"latency": 500, "jitter": 0},
                    name="test-latency", ttl_ms=60_000)  # fmt: skip
    try:
        started = time.monotonic()
        response = check_out(shop, ack_file)
        checkout_s = time.monotonic() - started
        browse_s = []
        for _ in range(5):
            started = time.monotonic()
            assert shop.get("/products").status_code == 200
            browse_s.append(time.monotonic() - started)
    finally:
        proxy.remove_toxic("orders->payments", "test-latency")
    assert response.status_code == 201, response.text
    assert checkout_s >= 0.5
    assert sorted(browse_s)[2] < 0.5  # the median browse never touched the slow edge


def _breaker_states(mesh: MeshHandle, edge: str) -> list[float]:
    states = []
    for replica in mesh.state.services["gateway"].replicas:
        text = httpx.get(f"http://127.0.0.1:{replica.port}/metrics", timeout=5).text
        for line in text.splitlines():
            if line.startswith(f'shop_circuit_breaker_state{{edge="{edge}"}}'):
                states.append(float(line.split()[-1]))
    return states


def test_recommendations_down_opens_the_breaker_and_the_fallback_answers(
    mesh: MeshHandle, shop: httpx.Client, proxy: ToxiproxyClient
) -> None:
    edge = "gateway->recommendations"
    proxy.update_proxy(edge, enabled=False)
    try:
        pages = [shop.get(f"/products/{1 + n % 5}") for n in range(30)]
        assert [p.status_code for p in pages] == [200] * 30
        assert {p.json()["recommendations_source"] for p in pages} == {"fallback"}
        assert all(p.json()["recommendations"] for p in pages)
        assert 2.0 in _breaker_states(mesh, edge)  # open in at least one gateway replica
    finally:
        proxy.update_proxy(edge, enabled=True)

    def live_again() -> bool:
        return shop.get("/products/1").json()["recommendations_source"] == "live"

    wait_for(live_again, 20, "recommendations live again after the breaker's reset timeout", 0.5)


def test_inventory_unreachable_degrades_the_page_and_fails_checkout_cleanly(
    mesh: MeshHandle, shop: httpx.Client, proxy: ToxiproxyClient, ack_file: Path
) -> None:
    proxy.update_proxy("gateway->inventory", enabled=False)
    try:
        page = shop.get("/products/4")
    finally:
        proxy.update_proxy("gateway->inventory", enabled=True)
    assert page.status_code == 200 and page.json()["stock"] is None
    proxy.update_proxy("orders->inventory", enabled=False)
    try:
        refused = shop.post(
            "/checkout", json={"items": [{"product_id": 4, "quantity": 1}]},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )  # fmt: skip
    finally:
        proxy.update_proxy("orders->inventory", enabled=True)
    assert refused.status_code in (503, 504)
    assert refused.headers["retry-after"]
    # The request ID travelled with the call: both services logged the failure under it.
    request_id = refused.headers["x-request-id"]
    logs = Path(mesh.state.state_dir) / "logs"
    for service in ("gateway", "orders"):  # logged just after the answer went out
        wait_for(
            lambda s=service: any(request_id in log.read_text() for log in logs.glob(f"{s}-*")),
            10,
            f"{service} logged request {request_id}",
        )
    # Each orders replica's breaker on orders->inventory opened on its own; once the reset
    # timeout passed, the next call is a trial that closes it again.
    wait_until_settled(mesh.state)
    assert all(check_out(shop, ack_file).status_code == 201 for _ in range(4))


def test_notifications_down_orders_succeed_and_backlog_drains(
    mesh: MeshHandle, shop: httpx.Client, proxy: ToxiproxyClient, ack_file: Path
) -> None:
    edge = "orders->notifications"
    proxy.update_proxy(edge, enabled=False)
    try:
        responses = [check_out(shop, ack_file) for _ in range(5)]
        assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
        report = check_invariants(mesh.state, ack_file)
        assert report.outbox_backlog >= 5
        assert report.ok, report.checks  # delayed, not lost
    finally:
        proxy.update_proxy(edge, enabled=True)
    drained = wait_for(
        lambda: (r := check_invariants(mesh.state, ack_file)).outbox_backlog == 0 and r,
        30,
        "outbox drained",
        0.5,
    )
    assert drained.ok, drained.checks


def test_invariants_hold_after_everything(mesh: MeshHandle, ack_file: Path) -> None:
    report = wait_for(
        lambda: (r := check_invariants(mesh.state, ack_file)).orders_in_flight == 0 and r,
        30,
        "no order in flight",
        0.5,
    )
    assert report.ok, report.checks
    assert report.acknowledged >= 7 and report.orders_confirmed >= report.acknowledged


def test_a_second_mesh_on_the_same_state_file_is_refused(mesh: MeshHandle) -> None:
    with pytest.raises(MeshAlreadyRunning, match="already running"):
        start_mesh(Path(mesh.state.state_dir), state_file=mesh.state_file)
