"""notifications: e-mails about confirmed orders, fed by the orders outbox relay.

An idempotent consumer: each event id is processed once, however often the relay
delivers it (it re-delivers whenever it did not see our answer)."""

from __future__ import annotations

import sqlite3
import time

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, Field

from chaos.targets.shop.config import ServiceConfig
from chaos.targets.shop.storage import ServiceDatabase, transaction
from chaos.targets.shop.web import create_app, json_response

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_events (
    event_id TEXT PRIMARY KEY, received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_order ON notifications (order_id);
"""


class Event(BaseModel):
    event_id: str = Field(min_length=1, max_length=200)
    order_id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100)


def build(config: ServiceConfig) -> FastAPI:
    db = ServiceDatabase(config.database(), SCHEMA)
    app = create_app("notifications", db.open, db.close)

    @app.post("/events")
    async def consume(event: Event) -> Response:
        conn = db.conn
        now = time.time()
        with transaction(conn):
            fresh = conn.execute(
                "INSERT OR IGNORE INTO processed_events (event_id, received_at) VALUES (?, ?)",
                (event.event_id, now),
            ).rowcount
            if fresh:
                conn.execute(
                    "INSERT INTO notifications (event_id, order_id, kind, sent_at) "
                    "VALUES (?, ?, ?, ?)",
                    (event.event_id, event.order_id, event.type, now),
                )
        return json_response({"event_id": event.event_id, "duplicate": not fresh})

    @app.get("/notifications/{order_id}")
    async def for_order(order_id: str) -> Response:
        rows = conn_rows(db.conn, order_id)
        return json_response({"order_id": order_id, "notifications": rows})

    return app


def conn_rows(conn: sqlite3.Connection, order_id: str) -> list[dict]:
    return [
        dict(row)
        for row in conn.execute(
            "SELECT event_id, kind, sent_at FROM notifications WHERE order_id = ?", (order_id,)
        )
    ]
