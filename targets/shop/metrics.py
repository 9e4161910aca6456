"""The shop's Prometheus metrics (one registry per replica process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "shop_http_requests_total",
    "HTTP requests served, by route and status.",
    ["service", "method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "shop_http_request_duration_seconds",
    "Time to serve an HTTP request, by route.",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EDGE_CALLS = Counter(
    "shop_edge_calls_total",
    "Calls to a dependency, by edge and outcome (ok, client_error, error, timeout, "
    "breaker_open, bulkhead_full).",
    ["edge", "outcome"],
)
EDGE_RETRIES = Counter("shop_edge_retries_total", "Retried attempts, by edge.", ["edge"])
FALLBACKS = Counter("shop_fallbacks_total", "Answers served from a fallback, by edge.", ["edge"])
BREAKER_STATE = Gauge(
    "shop_circuit_breaker_state",
    "Circuit breaker state by edge: 0 closed, 1 half-open, 2 open.",
    ["edge"],
)
BULKHEAD_IN_USE = Gauge("shop_bulkhead_in_use", "Calls in flight, by edge.", ["edge"])
RATE_LIMITED = Counter("shop_rate_limited_total", "Requests refused with 429 at the gateway.")
OUTBOX_BACKLOG = Gauge("shop_outbox_backlog", "Outbox events not yet delivered.")
OUTBOX_DELIVERED = Counter("shop_outbox_delivered_total", "Outbox events delivered.")
SAGAS = Counter("shop_checkout_sagas_total", "Checkout sagas by outcome.", ["outcome"])
