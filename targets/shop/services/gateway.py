"""gateway: the shop's only public entry. Routes to the services, rate-limits each
client, and answers a product page even when recommendations are slow or down (a
static list, marked `"recommendations_source": "fallback"`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from chaos.targets.shop.config import ServiceConfig
from chaos.targets.shop.edges import EdgeClient, EdgeUnavailable
from chaos.targets.shop.metrics import FALLBACKS, RATE_LIMITED
from chaos.targets.shop.seed import fallback_recommendations
from chaos.targets.shop.topology import RateLimit
from chaos.targets.shop.web import create_app, error, json_response

MAX_TRACKED_CLIENTS = 10_000
UNLIMITED = {"/healthz", "/readyz", "/metrics"}


class TokenBuckets:
    """Per-client token buckets (in this replica's memory)."""

    def __init__(self, limit: RateLimit) -> None:
        self.rate = limit.requests_per_s
        self.burst = float(limit.burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str) -> float:
        """0 if the request may pass, else the seconds until a token is free."""
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            if len(self._buckets) >= MAX_TRACKED_CLIENTS and client not in self._buckets:
                self._buckets.clear()  # crude but bounded: forget idle clients
            self._buckets[client] = (tokens - 1, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate


class RateLimiter:
    """ASGI middleware: 429 with Retry-After once a client's bucket is empty. The client
    is header X-Client-Id, else the peer address; health and metrics are never limited."""

    def __init__(self, app: Any, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED:
            await self.app(scope, receive, send)
            return
        client = ""
        for name, value in scope["headers"]:
            if name == b"x-client-id":
                client = value.decode("latin-1")[:100]
                break
        if not client:
            peer = scope.get("client")
            client = peer[0] if peer else "unknown"
        wait = self.buckets.take(client)
        if wait > 0:
            RATE_LIMITED.inc()
            retry_after = str(max(1, round(wait)))
            response = error(429, f"rate limit for client {client!r}", {"Retry-After": retry_after})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _forward(response: object) -> Response:
    return Response(
        response.content,  # type: ignore[attr-defined]
        status_code=response.status_code,  # type: ignore[attr-defined]
        media_type="application/json",
    )


def _unavailable(exc: EdgeUnavailable) -> Response:
    return error(504 if exc.timed_out else 503, str(exc), {"Retry-After": "1"})


def build(config: ServiceConfig) -> FastAPI:
    clients: dict[str, EdgeClient] = {}

    async def startup() -> None:
        for callee, target in config.edges.items():
            clients[callee] = EdgeClient(target)

    async def shutdown() -> None:
        for client in clients.values():
            await client.aclose()

    app = create_app("gateway", startup, shutdown)
    limit = config.rate_limit

    if limit is not None and limit.enabled:
        app.add_middleware(RateLimiter, buckets=TokenBuckets(limit))

    async def call(callee: str, method: str, path: str, **kwargs: object) -> Response:
        try:
            response = await clients[callee].request(method, path, **kwargs)  # type: ignore[arg-type]
        except EdgeUnavailable as exc:
            return _unavailable(exc)
        return _forward(response)

    @app.get("/products")
    async def products() -> Response:
        return await call("catalog", "GET", "/products")

    @app.get("/products/{product_id}")
    async def product_page(product_id: int) -> Response:
        product, stock, recommended = await asyncio.gather(
            clients["catalog"].request("GET", f"/products/{product_id}"),
            clients["inventory"].request("GET", f"/stock/{product_id}"),
            clients["recommendations"].request("GET", f"/recommendations/{product_id}"),
            return_exceptions=True,
        )
        if isinstance(product, EdgeUnavailable):
            return _unavailable(product)
        if isinstance(product, BaseException):
            raise product
        if product.status_code != 200:
            return _forward(product)
        page = product.json()
        page["stock"] = None
        if isinstance(stock, EdgeUnavailable):
            if not clients["inventory"].policy.fallback.enabled:
                return _unavailable(stock)
            FALLBACKS.labels(clients["inventory"].name).inc()
        elif isinstance(stock, BaseException):
            raise stock
        elif stock.status_code == 200:
            page["stock"] = stock.json()["stock"]
        edge = clients["recommendations"]
        if isinstance(recommended, BaseException) and not isinstance(recommended, EdgeUnavailable):
            raise recommended
        if isinstance(recommended, EdgeUnavailable) or recommended.status_code != 200:
            if not edge.policy.fallback.enabled:
                if isinstance(recommended, EdgeUnavailable):
                    return _unavailable(recommended)
                return _forward(recommended)
            FALLBACKS.labels(edge.name).inc()
            page["recommendations"] = fallback_recommendations(product_id)
            page["recommendations_source"] = "fallback"
        else:
            page["recommendations"] = recommended.json()["recommendations"]
            page["recommendations_source"] = "live"
        return json_response(page)

    @app.post("/carts")
    async def create_cart() -> Response:
        return await call("orders", "POST", "/carts", retry=False)

    @app.post("/carts/{cart_id}/items")
    async def add_item(cart_id: str, request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        return await call("orders", "POST", f"/carts/{cart_id}/items", json=body, retry=False)

    @app.get("/carts/{cart_id}")
    async def get_cart(cart_id: str) -> Response:
        return await call("orders", "GET", f"/carts/{cart_id}")

    @app.post("/checkout")
    async def checkout(request: Request) -> Response:
        key = request.headers.get("idempotency-key")
        if not key:
            return error(400, "the Idempotency-Key header is required")
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        # Safe to retry: orders deduplicates by the key.
        return await call(
            "orders", "POST", "/checkout", json=body, headers={"idempotency-key": key}
        )

    @app.get("/orders/{order_id}")
    async def get_order(order_id: str) -> Response:
        return await call("orders", "GET", f"/orders/{order_id}")

    return app


async def _json_body(request: Request) -> object:
    try:
        return await request.json()
    except ValueError:
        return error(400, "the request body must be JSON")
