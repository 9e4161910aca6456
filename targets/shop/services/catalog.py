"""catalog: the product range (names and prices)."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI
from fastapi.responses import Response

from chaos.targets.shop.config import ServiceConfig
from chaos.targets.shop.seed import PRODUCTS
from chaos.targets.shop.storage import ServiceDatabase
from chaos.targets.shop.web import create_app, error, json_response

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL
);
"""


def _seed(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO products (id, name, price_cents) VALUES (?, ?, ?)",
        PRODUCTS,
    )


def build(config: ServiceConfig) -> FastAPI:
    db = ServiceDatabase(config.database(), SCHEMA, _seed)
    app = create_app("catalog", db.open, db.close)

    @app.get("/products")
    async def list_products() -> Response:
        rows = db.conn.execute("SELECT id, name, price_cents FROM products ORDER BY id")
        return json_response([dict(row) for row in rows])

    @app.get("/products/{product_id}")
    async def get_product(product_id: int) -> Response:
        row = db.conn.execute(
            "SELECT id, name, price_cents FROM products WHERE id = ?", (product_id,)
        ).fetchone()
        if row is None:
            return error(404, f"no product {product_id}")
        return json_response(dict(row))

    return app
