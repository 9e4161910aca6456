"""What every shop service shares: request IDs, per-route metrics, `/healthz`, `/readyz`
and `/metrics`, JSON answers, and a lifespan that opens the service's resources."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chaos.targets.shop.edges import REQUEST_ID
from chaos.targets.shop.metrics import REQUEST_SECONDS, REQUESTS
from chaos.targets.shop.tracing import TRACE_HEADERS, ShopTracer, shop_tracer

Hook = Callable[[], Awaitable[None]]
LOG = logging.getLogger("shop")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"detail": detail, "request_id": REQUEST_ID.get()}, status, headers)


TRACE_HEADER_NAMES = (b"traceparent", b"baggage")


class RequestContext:
    """ASGI middleware: adopt or mint `X-Request-Id`, echo it, record per-route request
    counts and latency (route templates, so labels stay few), and take the W3C trace
    context (`traceparent`, `baggage`) in, as a server span when tracing is on."""

    def __init__(self, app: Any, service: str, tracing: dict[str, ShopTracer | None]) -> None:
        self.app = app
        self.service = service
        self.tracing = tracing

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        incoming: dict[str, str] | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
            elif name in TRACE_HEADER_NAMES:
                incoming = incoming or {}
                incoming[name.decode("latin-1")] = value.decode("latin-1")[:512]
        # Not uuid4: os.urandom costs up to a millisecond per call on busy machines.
        request_id = request_id or f"{random.getrandbits(64):016x}"
        token = REQUEST_ID.set(request_id)
        tracer = self.tracing["tracer"]
        span = None
        if tracer is not None:
            span, incoming = tracer.start(scope["method"], scope["path"], incoming or {})
        trace_token = TRACE_HEADERS.set(incoming) if incoming else None
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            REQUESTS.labels(self.service, method, template, str(status)).inc()
            elapsed = time.perf_counter() - started
            REQUEST_SECONDS.labels(self.service, method, template).observe(elapsed)
            if status >= 500:
                LOG.warning(
                    "%s %s -> %d in %.0f ms (request %s)",
                    method, scope["path"], status, elapsed * 1000, request_id,
                )  # fmt: skip
            REQUEST_ID.reset(token)
            if trace_token is not None:
                TRACE_HEADERS.reset(trace_token)
            if span is not None:
                ShopTracer.finish(span, template, status, request_id)


def create_app(
    service: str,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
) -> FastAPI:
    """A FastAPI app with the shared endpoints. `/readyz` answers 200 from the end of
    `on_startup` (database open, clients built) until shutdown begins."""
    started = {"ready": False}
    tracing: dict[str, ShopTracer | None] = {"tracer": None}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # After the fork: the SDK's batch processor runs a thread of its own.
        tracing["tracer"] = shop_tracer(service)
        if on_startup is not None:
            await on_startup()
        started["ready"] = True
        try:
            yield
        finally:
            started["ready"] = False
            if on_shutdown is not None:
                await on_shutdown()
            if tracing["tracer"] is not None:
                tracing["tracer"].shutdown()

    app = FastAPI(title=f"shop {service}", lifespan=lifespan, openapi_url=None, docs_url=None)
    app.add_middleware(RequestContext, service=service, tracing=tracing)

    @app.get("/healthz")
    async def healthz() -> Response:
        return json_response({"status": "ok", "service": service})

    @app.get("/readyz")
    async def readyz() -> Response:
        if started["ready"]:
            return json_response({"status": "ready", "service": service})
        return json_response({"status": "not ready", "service": service}, 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
