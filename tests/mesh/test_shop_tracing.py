"""The shop takes W3C trace context in and hands it on: one checkout carrying a
`traceparent` is followed across gateway → orders → payments by its spans, which the
replicas export over OTLP/HTTP to a receiver run by this test."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from chaos.targets.launcher import start_mesh

SPANS_WAIT_S = 30.0


class _Receiver(BaseHTTPRequestHandler):
    requests: list[ExportTraceServiceRequest] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.requests.append(request)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("R", (_Receiver,), {"requests": received}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _spans_of(trace_id: bytes, received: list[ExportTraceServiceRequest]) -> list[tuple]:
    found = []
    for request in list(received):
        for resource in request.resource_spans:
            service = next(
                kv.value.string_value
                for kv in resource.resource.attributes
                if kv.key == "service.name"
            )
            for scope in resource.scope_spans:
                found += [(service, s) for s in scope.spans if s.trace_id == trace_id]
    return found


@pytest.mark.slow
def test_one_checkout_is_followed_across_gateway_orders_and_payments(
    tmp_path: Path, receiver: tuple[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = receiver
    # The replicas inherit these from the mesh's owner.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    trace_id, parent_id = random.getrandbits(128), random.getrandbits(64)
    traceparent = f"00-{trace_id:032x}-{parent_id:016x}-01"
    with (
        start_mesh(tmp_path / "mesh") as mesh,
        httpx.Client(base_url=mesh.state.gateway_url, timeout=15.0) as shop,
    ):
        answer = shop.post(
            "/checkout",
            json={"items": [{"product_id": 1, "quantity": 1}]},
            headers={
                "Idempotency-Key": uuid.uuid4().hex,
                "traceparent": traceparent,
                "baggage": "gameday.run_trace=abc123",
            },
        )
        assert answer.status_code == 201, answer.text
        wanted = trace_id.to_bytes(16, "big")
        deadline = time.monotonic() + SPANS_WAIT_S
        spans: list[tuple] = []
        while time.monotonic() < deadline:
            spans = _spans_of(wanted, received)
            if {"gateway", "orders", "payments"} <= {service for service, _ in spans}:
                break
            time.sleep(0.2)
    by_service: dict[str, list] = {}
    for service, span in spans:
        by_service.setdefault(service, []).append(span)
    assert {"gateway", "orders", "payments"} <= set(by_service), sorted(by_service)
    (gateway,) = [s for s in by_service["gateway"] if s.name == "POST /checkout"]
    assert gateway.parent_span_id == parent_id.to_bytes(8, "big")
    (orders,) = [s for s in by_service["orders"] if s.name == "POST /checkout"]
    assert orders.parent_span_id == gateway.span_id
    charges = [s for s in by_service["payments"] if s.parent_span_id == orders.span_id]
    assert charges, [s.name for s in by_service["payments"]]
    attributes = {kv.key: kv.value for kv in gateway.attributes}
    assert attributes["baggage.gameday.run_trace"].string_value == "abc123"
    assert attributes["http.response.status_code"].int_value == 201
    assert attributes["http.route"].string_value == "/checkout"


@pytest.mark.slow
def test_locust_requests_carry_the_runs_trace_id_as_baggage(
    tmp_path: Path, receiver: tuple[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaos.engine.run_setup import RUN_TRACE_ENV
    from chaos.load import LoadRunner, LoadSpec

    endpoint, received = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    run_trace = f"{random.getrandbits(128):032x}"

    def tagged() -> list[str]:
        found = []
        for request in list(received):
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        for kv in span.attributes:
                            if (
                                kv.key == "baggage.gameday.run_trace"
                                and kv.value.string_value == run_trace
                            ):
                                found.append(span.name)
        return found

    with start_mesh(tmp_path / "mesh") as mesh:
        spec = LoadSpec(
            host=mesh.state.gateway_url,
            users=2,
            spawn_rate=2,
            output_dir=tmp_path / "load",
            env={RUN_TRACE_ENV: run_trace},
        )
        with LoadRunner(spec) as runner:
            runner.wait_ready(timeout=60)
            deadline = time.monotonic() + SPANS_WAIT_S
            while time.monotonic() < deadline and len(tagged()) < 3:
                time.sleep(0.2)
    assert len(tagged()) >= 3, "no span carried the run's trace id as baggage"
