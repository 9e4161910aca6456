"""recommendations: products bought together with a product (optional for a page)."""

from __future__ import annotations

import json
import sqlite3

from fastapi import FastAPI
from fastapi.responses import Response

from chaos.targets.shop.config import ServiceConfig
from chaos.targets.shop.seed import PRODUCTS, related
from chaos.targets.shop.storage import ServiceDatabase
from chaos.targets.shop.web import create_app, json_response

SCHEMA = """
CREATE TABLE IF NOT EXISTS related (product_id INTEGER PRIMARY KEY, product_ids TEXT NOT NULL);
"""


def _seed(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO related (product_id, product_ids) VALUES (?, ?)",
        [(p.id, json.dumps(related(p.id))) for p in PRODUCTS],
    )


def build(config: ServiceConfig) -> FastAPI:
    db = ServiceDatabase(config.database(), SCHEMA, _seed)
    app = create_app("recommendations", db.open, db.close)

    @app.get("/recommendations/{product_id}")
    async def recommend(product_id: int) -> Response:
        row = db.conn.execute(
            "SELECT product_ids FROM related WHERE product_id = ?", (product_id,)
        ).fetchone()
        ids = json.loads(row["product_ids"]) if row else []
        return json_response({"product_id": product_id, "recommendations": ids})

    return app
