"""W3C trace context in the shop: every service accepts `traceparent` (and `baggage`) and
passes it on to the services it calls.

Tracing off (no `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` in the
replica's environment): the incoming headers are handed on unchanged, so a caller's trace
still reaches every hop, at the cost of one header lookup per request. Tracing on: each
request is a server span, a child of the incoming `traceparent` (extracted and injected
with OpenTelemetry's W3C propagators), exported over OTLP/HTTP by the SDK's batch
processor, and the calls it makes carry that span as their parent.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any

__all__ = ["TRACE_HEADERS", "ShopTracer", "outgoing_trace_headers", "shop_tracer"]

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# What this request hands on to the services it calls: {"traceparent": ..., "baggage": ...}.
TRACE_HEADERS: ContextVar[dict[str, str] | None] = ContextVar("trace_headers", default=None)


def outgoing_trace_headers() -> dict[str, str] | None:
    """The trace headers a call made while serving the current request must carry."""
    return TRACE_HEADERS.get()


class ShopTracer:
    """The OpenTelemetry SDK for one replica; created after the fork (its batch processor
    runs a thread) and shut down with the app, which flushes the spans."""

    def __init__(self, service: str) -> None:
        from opentelemetry.baggage.propagation import W3CBaggagePropagator
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.propagators.composite import CompositePropagator
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("chaos-gameday-shop")
        self.propagator = CompositePropagator(
            [TraceContextTextMapPropagator(), W3CBaggagePropagator()]
        )

    def start(self, method: str, path: str, incoming: dict[str, str]) -> tuple[Any, dict[str, str]]:
        """A server span for this request, child of `incoming`'s trace context, and the
        headers the calls it makes carry. End the span with `finish`."""
        from opentelemetry import baggage, trace

        parent = self.propagator.extract(incoming)
        span = self.tracer.start_span(
            f"{method} {path}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )
        for key, value in baggage.get_all(parent).items():
            span.set_attribute(f"baggage.{key}", str(value))
        outgoing: dict[str, str] = {}
        self.propagator.inject(outgoing, context=trace.set_span_in_context(span, parent))
        return span, outgoing

    @staticmethod
    def finish(span: Any, route: str, status: int, request_id: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        span.update_name(f"{span.name.split(' ', 1)[0]} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("gameday.request_id", request_id)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def shutdown(self) -> None:
        self.provider.shutdown()


def shop_tracer(service: str) -> ShopTracer | None:
    """A tracer when an OTLP endpoint is configured (and the SDK not disabled), else None."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    if not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        return None
    return ShopTracer(service)
