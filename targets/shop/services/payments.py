"""payments: charges, idempotent by charge key.

The same key never charges twice. Refunding an unknown key leaves a `voided` tombstone,
so a charge request that arrives after its saga was compensated is refused instead of
taking money for an order that failed."""

from __future__ import annotations

import sqlite3
import time

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, Field

from chaos.targets.shop.config import ServiceConfig
from chaos.targets.shop.storage import ServiceDatabase, transaction
from chaos.targets.shop.web import create_app, error, json_response

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    charge_key TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('captured', 'refunded', 'voided')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS charges_order ON charges (order_id);
"""


class Charge(BaseModel):
    charge_key: str = Field(min_length=1, max_length=200)
    order_id: str = Field(min_length=1, max_length=200)
    amount_cents: int = Field(ge=0)


class Refund(BaseModel):
    order_id: str = Field("", max_length=200)


def _view(row: sqlite3.Row) -> dict:
    return {key: row[key] for key in ("charge_key", "order_id", "amount_cents", "status")}


def build(config: ServiceConfig) -> FastAPI:
    db = ServiceDatabase(config.database(), SCHEMA)
    app = create_app("payments", db.open, db.close)

    @app.post("/charges")
    async def charge(body: Charge) -> Response:
        conn = db.conn
        now = time.time()
        with transaction(conn):
            row = conn.execute(
                "SELECT * FROM charges WHERE charge_key = ?", (body.charge_key,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO charges VALUES (?, ?, ?, 'captured', ?, ?)",
                    (body.charge_key, body.order_id, body.amount_cents, now, now),
                )
                view = {**body.model_dump(), "status": "captured"}
                return json_response(view, 201)
        view = _view(row)
        return json_response(view, 200 if view["status"] == "captured" else 409)

    @app.post("/charges/{charge_key}/refund")
    async def refund(charge_key: str, body: Refund) -> Response:
        conn = db.conn
        now = time.time()
        with transaction(conn):
            row = conn.execute(
                "SELECT status FROM charges WHERE charge_key = ?", (charge_key,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO charges VALUES (?, ?, 0, 'voided', ?, ?)",
                    (charge_key, body.order_id, now, now),
                )
                status = "voided"
            elif row["status"] == "captured":
                conn.execute(
                    "UPDATE charges SET status = 'refunded', updated_at = ? WHERE charge_key = ?",
                    (now, charge_key),
                )
                status = "refunded"
            else:
                status = row["status"]
        return json_response({"charge_key": charge_key, "status": status})

    @app.get("/charges/{charge_key}")
    async def get_charge(charge_key: str) -> Response:
        row = (
            db.conn.execute("SELECT * FROM charges WHERE charge_key = ?", (charge_key,))
        ).fetchone()
        if row is None:
            return error(404, f"no charge {charge_key}")
        return json_response(_view(row))

    return app
