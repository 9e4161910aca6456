"""orders: carts, checkout (a saga, idempotent by Idempotency-Key) and the outbox that
feeds notifications."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import uuid

from fastapi import FastAPI, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from chaos.targets.shop.config import ServiceConfig
from chaos.targets.shop.edges import EdgeClient, EdgeUnavailable
from chaos.targets.shop.services.orders_outbox import OutboxRelay
from chaos.targets.shop.services.orders_saga import LEASE_S, Saga, SagaResult, order_view
from chaos.targets.shop.storage import open_db, transaction
from chaos.targets.shop.web import create_app, error, json_response

SCHEMA = """
CREATE TABLE IF NOT EXISTS carts (cart_id TEXT PRIMARY KEY, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cart_items (
    cart_id TEXT NOT NULL, product_id INTEGER NOT NULL, quantity INTEGER NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    items TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'confirmed', 'rejected', 'compensating', 'failed')),
    attempt INTEGER NOT NULL DEFAULT 1,
    reason TEXT NOT NULL DEFAULT '',
    reject_status INTEGER NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_open ON orders (status, lease_until);
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    type TEXT NOT NULL,
    created_at REAL NOT NULL,
    delivered_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_at, next_attempt_at);
"""

PRICE_CACHE_S = 30.0
RECOVERY_EVERY_S = 1.0
SETTLE_WAIT_S = 5.0


class Item(BaseModel):
    product_id: int
    quantity: int = Field(ge=1, le=100)


class CheckoutRequest(BaseModel):
    cart_id: str | None = None
    items: list[Item] | None = Field(None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_source(self) -> CheckoutRequest:
        if (self.cart_id is None) == (self.items is None):
            raise ValueError("give exactly one of cart_id or items")
        return self


def _unavailable(exc: EdgeUnavailable) -> Response:
    return error(504 if exc.timed_out else 503, str(exc), {"Retry-After": "1"})


class Orders:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.db: sqlite3.Connection
        self.catalog: EdgeClient
        self.saga: Saga
        self.relay: OutboxRelay
        self._prices: dict[int, int] = {}
        self._prices_at = 0.0
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self.db = open_db(self.config.database(), SCHEMA)
        edges = self.config.edges
        self.catalog = EdgeClient(edges["catalog"])
        inventory = EdgeClient(edges["inventory"])
        payments = EdgeClient(edges["payments"])
        notifications = EdgeClient(edges["notifications"])
        self.relay = OutboxRelay(self.db, notifications)
        self.saga = Saga(self.db, inventory, payments, on_confirmed=self.relay.wake.set)
        self._clients = [self.catalog, inventory, payments, notifications]
        self._tasks = [
            asyncio.create_task(self.relay.run_forever()),
            asyncio.create_task(self._recover_forever()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for client in self._clients:
            await client.aclose()
        self.db.close()

    # -- catalog prices --------------------------------------------------------------

    async def prices(self) -> dict[int, int]:
        if not self._prices or time.monotonic() - self._prices_at > PRICE_CACHE_S:
            response = await self.catalog.request("GET", "/products")
            self._prices = {p["id"]: p["price_cents"] for p in response.json()}
            self._prices_at = time.monotonic()
        return self._prices

    # -- carts -----------------------------------------------------------------------

    def cart(self, cart_id: str) -> dict | None:
        if not self.db.execute("SELECT 1 FROM carts WHERE cart_id = ?", (cart_id,)).fetchone():
            return None
        rows = self.db.execute(
            "SELECT product_id, quantity FROM cart_items WHERE cart_id = ? ORDER BY product_id",
            (cart_id,),
        )
        return {"cart_id": cart_id, "items": [dict(row) for row in rows]}

    # -- checkout --------------------------------------------------------------------

    def by_key(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM orders WHERE idempotency_key = ?", (key,)).fetchone()

    async def checkout(self, key: str, body: CheckoutRequest) -> Response:
        existing = self.by_key(key)
        if existing is None:
            if body.cart_id is not None:
                cart = self.cart(body.cart_id)
                if cart is None:
                    return error(404, f"no cart {body.cart_id}")
                items = cart["items"]
                if not items:
                    return error(422, f"cart {body.cart_id} is empty")
            else:
                items = [item.model_dump() for item in body.items or []]
            try:
                prices = await self.prices()
            except EdgeUnavailable as exc:
                return _unavailable(exc)
            unknown = sorted({i["product_id"] for i in items if i["product_id"] not in prices})
            if unknown:
                return error(422, f"unknown product(s) {unknown}")
            total = sum(prices[i["product_id"]] * i["quantity"] for i in items)
            order_id = uuid.uuid4().hex
            now = time.time()
            try:
                with transaction(self.db):
                    self.db.execute(
                        "INSERT INTO orders (order_id, idempotency_key, items, total_cents, "
                        "status, lease_until, lease_owner, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                        (order_id, key, json.dumps(items), total, now + LEASE_S,
                         self.saga.owner, now, now),
                    )  # fmt: skip
            except sqlite3.IntegrityError:
                existing = self.by_key(key)  # a concurrent request with the same key won
            else:
                return self._answer(await self.saga.run(order_id))
        assert existing is not None
        return await self._repeat(existing)

    async def _repeat(self, order: sqlite3.Row) -> Response:
        """The same Idempotency-Key again: the same order, resumed if it is unfinished."""
        order_id = order["order_id"]
        deadline = time.monotonic() + SETTLE_WAIT_S
        while True:
            if order["status"] == "confirmed":
                return json_response(order_view(order), 200)
            if order["status"] == "rejected":
                return error(order["reject_status"] or 409, order["reason"] or "rejected")
            if self.saga.claim(order_id):
                result = await self.saga.run(order_id)
                return self._answer(result, repeated=True)
            if time.monotonic() >= deadline:
                busy = f"order {order_id} is still being processed"
                return error(503, busy, {"Retry-After": "1"})
            await asyncio.sleep(0.05)
            order = self.saga.load(order_id)

    def _answer(self, result: SagaResult, repeated: bool = False) -> Response:
        status, order, detail = result.status, result.order, result.detail
        if status == 201 or (status == 200 and order and order["status"] == "confirmed"):
            return json_response(order, 200 if repeated and status == 200 else status)
        if status == 409:
            return error(409, detail or "out of stock")
        return error(status, detail or "checkout failed", {"Retry-After": "1"})

    # -- recovery --------------------------------------------------------------------

    async def _recover_forever(self) -> None:
        """Finish sagas whose replica died mid-way (their lease ran out)."""
        while True:
            await asyncio.sleep(RECOVERY_EVERY_S)
            try:
                stuck = self.db.execute(
                    "SELECT order_id FROM orders WHERE status IN ('pending', 'compensating') "
                    "AND lease_until < ? LIMIT 20",
                    (time.time(),),
                ).fetchall()
                for row in stuck:
                    if self.saga.claim(row["order_id"]):
                        await self.saga.run(row["order_id"], new_attempt_if_failed=False)
            except sqlite3.Error:
                continue


def build(config: ServiceConfig) -> FastAPI:
    orders = Orders(config)
    app = create_app("orders", orders.start, orders.stop)

    @app.post("/carts", status_code=201)
    async def create_cart() -> Response:
        cart_id = uuid.uuid4().hex
        with transaction(orders.db):
            orders.db.execute(
                "INSERT INTO carts (cart_id, created_at) VALUES (?, ?)", (cart_id, time.time())
            )
        return json_response({"cart_id": cart_id, "items": []}, 201)

    @app.get("/carts/{cart_id}")
    async def get_cart(cart_id: str) -> Response:
        cart = orders.cart(cart_id)
        return json_response(cart) if cart else error(404, f"no cart {cart_id}")

    @app.post("/carts/{cart_id}/items")
    async def add_item(cart_id: str, item: Item) -> Response:
        if orders.cart(cart_id) is None:
            return error(404, f"no cart {cart_id}")
        try:
            prices = await orders.prices()
        except EdgeUnavailable as exc:
            return _unavailable(exc)
        if item.product_id not in prices:
            return error(404, f"no product {item.product_id}")
        with transaction(orders.db):
            orders.db.execute(
                "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?, ?, ?) "
                "ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = quantity + ?",
                (cart_id, item.product_id, item.quantity, item.quantity),
            )
        return json_response(orders.cart(cart_id))

    @app.post("/checkout")
    async def checkout(
        body: CheckoutRequest, idempotency_key: str | None = Header(None, max_length=200)
    ) -> Response:
        if not idempotency_key:
            return error(400, "the Idempotency-Key header is required")
        return await orders.checkout(idempotency_key, body)

    @app.get("/orders/{order_id}")
    async def get_order(order_id: str) -> Response:
        row = orders.db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return json_response(order_view(row)) if row else error(404, f"no order {order_id}")

    return app
