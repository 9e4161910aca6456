"""inventory: stock levels and reservations.

Reservations are idempotent by id, and releasing an unknown reservation leaves a
tombstone, so a reserve request that arrives after its saga gave up (a slow network)
cannot hold stock nobody will ever release."""

from __future__ import annotations

import json
import sqlite3
import time

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, Field

from chaos.targets.shop.config import ServiceConfig
from chaos.targets.shop.seed import INITIAL_STOCK, PRODUCTS
from chaos.targets.shop.storage import ServiceDatabase, transaction
from chaos.targets.shop.web import create_app, error, json_response

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (
    product_id INTEGER PRIMARY KEY, initial INTEGER NOT NULL, available INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    reservation_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    items TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'released', 'rejected')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_order ON reservations (order_id);
"""


class Item(BaseModel):
    product_id: int
    quantity: int = Field(ge=1, le=1000)


class Reservation(BaseModel):
    reservation_id: str = Field(min_length=1, max_length=200)
    order_id: str = Field(min_length=1, max_length=200)
    items: list[Item] = Field(min_length=1, max_length=100)


class Release(BaseModel):
    order_id: str = Field("", max_length=200)


def _view(row: sqlite3.Row) -> dict:
    return {
        "reservation_id": row["reservation_id"],
        "order_id": row["order_id"],
        "items": json.loads(row["items"]),
        "status": row["status"],
    }


def _seed(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO stock (product_id, initial, available) VALUES (?, ?, ?)",
        [(p.id, INITIAL_STOCK, INITIAL_STOCK) for p in PRODUCTS],
    )


def build(config: ServiceConfig) -> FastAPI:
    db = ServiceDatabase(config.database(), SCHEMA, _seed)
    app = create_app("inventory", db.open, db.close)

    @app.get("/stock/{product_id}")
    async def get_stock(product_id: int) -> Response:
        row = db.conn.execute(
            "SELECT available FROM stock WHERE product_id = ?", (product_id,)
        ).fetchone()
        if row is None:
            return error(404, f"no product {product_id}")
        return json_response({"product_id": product_id, "stock": row["available"]})

    @app.post("/reservations")
    async def reserve(body: Reservation) -> Response:
        conn = db.conn
        now = time.time()
        items = [item.model_dump() for item in body.items]
        with transaction(conn):
            existing = conn.execute(
                "SELECT * FROM reservations WHERE reservation_id = ?", (body.reservation_id,)
            ).fetchone()
            if existing is not None:
                view = _view(existing)
                return json_response(view, 200 if view["status"] == "reserved" else 409)
            wanted: dict[int, int] = {}
            for item in body.items:
                wanted[item.product_id] = wanted.get(item.product_id, 0) + item.quantity
            short = []
            for product_id, quantity in wanted.items():
                row = conn.execute(
                    "SELECT available FROM stock WHERE product_id = ?", (product_id,)
                ).fetchone()
                if row is None or row["available"] < quantity:
                    short.append(product_id)
            status = "rejected" if short else "reserved"
            if not short:
                conn.executemany(
                    "UPDATE stock SET available = available - ? WHERE product_id = ?",
                    [(quantity, product_id) for product_id, quantity in wanted.items()],
                )
            conn.execute(
                "INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?)",
                (body.reservation_id, body.order_id, json.dumps(items), status, now, now),
            )
        view = {"reservation_id": body.reservation_id, "order_id": body.order_id,
                "items": items, "status": status, "short": short}  # fmt: skip
        return json_response(view, 409 if short else 201)

    @app.post("/reservations/{reservation_id}/release")
    async def release(reservation_id: str, body: Release) -> Response:
        conn = db.conn
        now = time.time()
        with transaction(conn):
            row = conn.execute(
                "SELECT * FROM reservations WHERE reservation_id = ?", (reservation_id,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO reservations VALUES (?, ?, '[]', 'released', ?, ?)",
                    (reservation_id, body.order_id, now, now),
                )
                return json_response({"reservation_id": reservation_id, "status": "released"})
            if row["status"] == "reserved":
                conn.executemany(
                    "UPDATE stock SET available = available + ? WHERE product_id = ?",
                    [(i["quantity"], i["product_id"]) for i in json.loads(row["items"])],
                )
                conn.execute(
                    "UPDATE reservations SET status = 'released', updated_at = ? "
                    "WHERE reservation_id = ?",
                    (now, reservation_id),
                )
        return json_response({"reservation_id": reservation_id, "status": "released"})

    @app.get("/reservations/{reservation_id}")
    async def get_reservation(reservation_id: str) -> Response:
        row = db.conn.execute(
            "SELECT * FROM reservations WHERE reservation_id = ?", (reservation_id,)
        ).fetchone()
        if row is None:
            return error(404, f"no reservation {reservation_id}")
        return json_response(_view(row))

    return app
