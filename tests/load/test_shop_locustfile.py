"""The bundled shop locustfile against a stand-in shop that follows the documented API."""

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaos.load import SHOP_LOCUSTFILE, LoadRunner, LoadSpec

from .conftest import serving

pytestmark = pytest.mark.slow

PRODUCTS = [{"id": i, "name": f"p{i}", "price_cents": 100 * i} for i in (1, 2, 3)]
OUT_OF_STOCK = 3


class FakeShop:
    """Every third new idempotency key first gets a 503; product 3 is always out of stock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.orders_by_key: dict[str, str] = {}
        self.checkout_posts: Counter[str] = Counter()
        self.new_keys = 0
        self.missing_key = 0
        shop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/products":
                    return self.reply(200, PRODUCTS)
                if m := re.fullmatch(r"/products/(\d+)", self.path):
                    pid = int(m[1])
                    recs = [p["id"] for p in PRODUCTS if p["id"] != pid]
                    body = {**PRODUCTS[pid - 1], "stock": 5, "recommendations": recs}
                    return self.reply(200, {**body, "recommendations_source": "live"})
                if m := re.fullmatch(r"/(carts|orders)/([\w-]+)", self.path):
                    return self.reply(200, {"cart_id": m[2], "order_id": m[2], "items": []})
                return self.reply(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/carts":
                    return self.reply(201, {"cart_id": uuid.uuid4().hex})
                if re.fullmatch(r"/carts/\w+/items", self.path):
                    return self.reply(200, {"cart_id": "c", "items": [body]})
                if self.path == "/checkout":
                    return self.checkout(body)
                return self.reply(404, {"error": "not found"})

            def checkout(self, body: dict) -> None:
                key = self.headers.get("Idempotency-Key")
                if not key:
                    with shop.lock:
                        shop.missing_key += 1
                    return self.reply(400, {"error": "Idempotency-Key required"})
                items = body.get("items") or []
                if any(i.get("product_id") == OUT_OF_STOCK for i in items):
                    return self.reply(409, {"error": "out of stock"})
                with shop.lock:
                    shop.checkout_posts[key] += 1
                    if key in shop.orders_by_key:
                        order_id = shop.orders_by_key[key]
                        status = 200
                    else:
                        if shop.checkout_posts[key] == 1:
                            shop.new_keys += 1
                            if shop.new_keys % 3 == 0:
                                return self.reply(503, {"error": "payments unavailable"})
                        order_id = shop.orders_by_key[key] = uuid.uuid4().hex
                        status = 201
                reply = {"order_id": order_id, "status": "confirmed", "total_cents": 100}
                return self.reply(status, {**reply, "idempotency_key": key})

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def fake_shop() -> Iterator[FakeShop]:
    shop = FakeShop()
    with serving(shop.httpd):
        yield shop


def test_shop_mix_checks_out_with_idempotency_keys_and_records_acks(
    fake_shop: FakeShop, tmp_path: Path
) -> None:
    acks = tmp_path / "acks.jsonl"
    spec = LoadSpec(
        host=fake_shop.url,
        users=5,
        spawn_rate=50,
        duration_s=4,
        stop_timeout_s=3,
        output_dir=tmp_path / "load",
        env={"GAMEDAY_ACK_FILE": str(acks), "GAMEDAY_SHOP_THINK_S": "0.01,0.05"},
    )
    with LoadRunner(spec) as runner:
        runner.wait_ready(timeout=30)
        assert runner.wait(timeout=30)
    summary = runner.summary
    assert summary.locustfile == str(SHOP_LOCUSTFILE.resolve())
    assert {
        "GET /products",
        "GET /products/{id}",
        "POST /carts",
        "POST /carts/{id}/items",
        "GET /carts/{id}",
        "POST /checkout",
    } <= set(summary.endpoints)
    # The only failures are the shop's 503s; a 409 (out of stock) is a correct answer.
    assert summary.total.failures_by_kind.keys() == {"http_503"}
    assert fake_shop.missing_key == 0

    lines = [json.loads(line) for line in acks.read_text().splitlines()]
    assert lines, "orders were acknowledged"
    acked = {line["idempotency_key"]: line["order_id"] for line in lines}
    assert len(acked) == len(lines), "each acknowledged order is recorded once"
    with fake_shop.lock:
        orders = dict(fake_shop.orders_by_key)
        posts = Counter(fake_shop.checkout_posts)
    assert all(orders[key] == order_id for key, order_id in acked.items())
    # A checkout answered 503 was retried with the same key and then acknowledged.
    retried = [key for key in acked if posts[key] > 1]
    assert retried
    assert all(set(line) == {"order_id", "idempotency_key", "ts"} for line in lines)
