"""Shop customers for Locust: browse the catalog, read product pages (and follow a
recommendation), fill a cart and check out with an Idempotency-Key, retrying a failed or
unanswered checkout with the same key, as a careful client would.

Every order the shop acknowledges is appended once, as `{"order_id", "idempotency_key",
"ts"}`, to the JSON-lines file named by env `GAMEDAY_ACK_FILE` (if set), so the mesh's
invariant check can prove no acknowledged order was lost or charged twice.

Environment: `GAMEDAY_SHOP_TIMEOUT_S` (per request, default 10),
`GAMEDAY_SHOP_THINK_S` ("min,max" seconds between tasks, default "0.2,1.0").
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid

import gevent
from locust import FastHttpUser, between, task

ACK_FILE = os.environ.get("GAMEDAY_ACK_FILE")
TIMEOUT_S = float(os.environ.get("GAMEDAY_SHOP_TIMEOUT_S", "10"))
THINK_MIN_S, THINK_MAX_S = (
    float(x) for x in os.environ.get("GAMEDAY_SHOP_THINK_S", "0.2,1.0").split(",")
)
CHECKOUT_ATTEMPTS = 3
# Statuses after which the outcome of a checkout is unknown or transient: retry, same key.
RETRYABLE = {0, 429, 502, 503, 504}
# Share of successful checkouts re-sent with the same key, as if the answer had been lost.
DUPLICATE_SUBMIT_SHARE = 0.1


def record_ack(order_id: str, idempotency_key: str) -> None:
    if not ACK_FILE:
        return
    line = json.dumps({"order_id": order_id, "idempotency_key": idempotency_key, "ts": time.time()})
    # One small O_APPEND write per line keeps lines whole across worker processes.
    with open(ACK_FILE, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _json(response: object) -> object:
    try:
        return json.loads(response.text or "")  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None


class ShopCustomer(FastHttpUser):
    wait_time = between(THINK_MIN_S, THINK_MAX_S)
    network_timeout = TIMEOUT_S
    connection_timeout = TIMEOUT_S
    # A customer makes one request at a time. The pool size also bounds how often
    # geventhttpclient silently re-sends a GET whose connection closed unanswered
    # (pool size + 1 times), which would hide connection-reset faults.
    concurrency = 1

    def on_start(self) -> None:
        self.headers = {"X-Client-Id": f"locust-{uuid.uuid4().hex[:12]}"}
        run_trace = os.environ.get("GAMEDAY_RUN_TRACE_ID")
        if run_trace:
            # W3C baggage: the shop's spans carry the run's trace id (baggage.gameday.run_trace).
            self.headers["baggage"] = f"gameday.run_trace={run_trace}"
        self.product_ids: list[object] = []
        self.order_ids: list[str] = []

    # -- browsing ---------------------------------------------------------------

    @task(5)
    def browse_catalog(self) -> None:
        with self.client.get(
            "/products", headers=self.headers, name="/products", catch_response=True
        ) as response:
            if response.status_code != 200:
                return  # Locust marks non-2xx as failed
            products = _json(response)
            if not isinstance(products, list):
                response.failure("GET /products did not return a list")
                return
            self.product_ids = [p["id"] for p in products if isinstance(p, dict) and "id" in p]

    @task(8)
    def product_page(self) -> None:
        product_id = self._pick_product()
        if product_id is None:
            return
        page = self._get_product(product_id)
        recommendations = page.get("recommendations") if isinstance(page, dict) else None
        if recommendations and random.random() < 0.3:
            self._get_product(random.choice(recommendations))

    @task(1)
    def order_status(self) -> None:
        if not self.order_ids:
            return
        self.client.get(
            f"/orders/{random.choice(self.order_ids)}", headers=self.headers, name="/orders/{id}"
        )

    # -- buying -----------------------------------------------------------------

    @task(2)
    def fill_cart_and_check_out(self) -> None:
        product_ids = [p for p in (self._pick_product() for _ in range(3)) if p is not None]
        if not product_ids:
            return
        response = self.client.post("/carts", headers=self.headers, name="/carts")
        cart = _json(response) if response.status_code == 201 else None
        if not isinstance(cart, dict) or "cart_id" not in cart:
            return
        cart_id = cart["cart_id"]
        for product_id in product_ids[: random.randint(1, 3)]:
            self.client.post(
                f"/carts/{cart_id}/items",
                json={"product_id": product_id, "quantity": random.randint(1, 2)},
                headers=self.headers,
                name="/carts/{id}/items",
            )
        self.client.get(f"/carts/{cart_id}", headers=self.headers, name="/carts/{id}")
        if random.random() < 0.7:
            self._check_out({"cart_id": cart_id})

    @task(1)
    def buy_now(self) -> None:
        product_id = self._pick_product()
        if product_id is not None:
            self._check_out({"items": [{"product_id": product_id, "quantity": 1}]})

    # -- helpers ----------------------------------------------------------------

    def _pick_product(self) -> object | None:
        if not self.product_ids:
            self.browse_catalog()
        return random.choice(self.product_ids) if self.product_ids else None

    def _get_product(self, product_id: object) -> object:
        response = self.client.get(
            f"/products/{product_id}", headers=self.headers, name="/products/{id}"
        )
        return _json(response) if response.status_code == 200 else None

    def _check_out(self, body: dict) -> None:
        key = str(uuid.uuid4())
        order_id = None
        for attempt in range(CHECKOUT_ATTEMPTS):
            order_id, retry = self._submit(body, key, expected_order=None)
            if not retry:
                break
            gevent.sleep(0.2 * 2**attempt * random.uniform(0.5, 1.5))
        if order_id is not None:
            record_ack(order_id, key)
            self.order_ids = [*self.order_ids[-19:], order_id]
            if random.random() < DUPLICATE_SUBMIT_SHARE:
                self._submit(body, key, expected_order=order_id)

    def _submit(self, body: dict, key: str, expected_order: str | None) -> tuple[str | None, bool]:
        """One POST /checkout; returns (acknowledged order id or None, worth retrying)."""
        headers = {**self.headers, "Idempotency-Key": key}
        with self.client.post(
            "/checkout", json=body, headers=headers, name="/checkout", catch_response=True
        ) as response:
            status = response.status_code
            if status == 409:
                response.success()  # out of stock is a correct answer, not an error
                return None, False
            if status not in (200, 201):
                return None, status in RETRYABLE  # Locust marks it failed with its status
            order = _json(response)
            order_id = order.get("order_id") if isinstance(order, dict) else None
            if not order_id:
                response.failure("checkout acknowledged without an order_id")
                return None, False
            if expected_order is not None and order_id != expected_order:
                response.failure(
                    f"same Idempotency-Key gave order {order_id}, first {expected_order}"
                )
            return str(order_id), False
