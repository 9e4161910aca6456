"""Each run is an OpenTelemetry trace: `trace.json` in the run folder is OTLP JSON that the
official proto definitions parse into an ExportTraceServiceRequest, with run → phases →
activities, the fault as a span with its ledger id and the checks as events; with
OTEL_EXPORTER_OTLP_ENDPOINT set the same spans reach an OTLP/HTTP receiver."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from chaos.engine import RunOptions, otlp_json, run_experiment
from chaos.report import write_reports


def _spans(request: ExportTraceServiceRequest) -> list:
    return [
        span
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def _attributes(item) -> dict:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in item.attributes}


def test_a_run_is_one_trace_of_phases_activities_faults_and_checks(
    toy, marker: Path, tmp_path: Path
) -> None:
    result = run_experiment(
        toy(hypothesis="marker_absent", pause_s=0.5, frequency_s=0.2),
        RunOptions(runs_dir=tmp_path / "runs"),
    )
    assert result.run_dir is not None
    text = (result.run_dir / "trace.json").read_text()
    request = otlp_json.decode(text)
    # OTLP JSON: ids in hex, as collectors and OTLP/HTTP JSON receivers read them.
    root_span = json.loads(text)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert re.fullmatch(r"[0-9a-f]{32}", root_span["traceId"])
    assert re.fullmatch(r"[0-9a-f]{16}", root_span["spanId"])
    spans = _spans(request)
    assert len({span.trace_id for span in spans}) == 1
    by_name = {span.name: span for span in spans}
    root = by_name["run: toy set_marker"]
    assert root.parent_span_id == b""
    assert _attributes(root)["gameday.verdict"] == result.verdict
    for phase in ("steady_state_before", "method", "steady_state_after", "rollbacks"):
        span = by_name[f"phase: {phase}"]
        assert span.parent_span_id == root.span_id
        assert root.start_time_unix_nano <= span.start_time_unix_nano <= span.end_time_unix_nano
        assert span.end_time_unix_nano <= root.end_time_unix_nano
    method = by_name["phase: method"]
    action = by_name["action: toy-fault"]
    assert action.parent_span_id == method.span_id

    lines = (result.run_dir / "ledger.jsonl").read_text().splitlines()
    entry_id = json.loads(lines[0])["id"]
    faults = [span for span in spans if span.name.startswith("fault: ")]
    assert len(faults) == 1
    assert _attributes(faults[0])["gameday.ledger_id"] == entry_id
    assert _attributes(action)["gameday.ledger_id"] == entry_id
    assert faults[0].start_time_unix_nano < faults[0].end_time_unix_nano

    checks = [
        (span.name, _attributes(event))
        for span in spans
        for event in span.events
        if event.name == "check"
    ]
    assert {attributes["probe"] for _, attributes in checks} == {"toy-check"}
    assert {name for name, _ in checks} >= {"phase: steady_state_before", "phase: method"}
    failed = [attributes for _, attributes in checks if attributes["ok"] is False]
    assert failed and all(a["value"] is False and a["tolerance"] is True for a in failed)

    # The report names the trace, so the run's spans can be found in a tracing backend.
    write_reports(result.run_dir, ["md", "html"])
    trace_hex = root.trace_id.hex()
    assert f"`{trace_hex}`" in (result.run_dir / "report.md").read_text()
    assert f"trace <code>{trace_hex}</code>" in (result.run_dir / "report.html").read_text()


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[tuple[str, str, bytes]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.bodies.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list]]:
    bodies: list[tuple[str, str, bytes]] = []
    handler = type("Receiver", (_Receiver,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_trace_is_exported_over_otlp_http_when_the_endpoint_is_set(
    toy, tmp_path: Path, otlp_receiver: tuple[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, bodies = otlp_receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    result = run_experiment(toy(pause_s=0.2), RunOptions(runs_dir=tmp_path / "runs"))
    assert result.run_dir is not None
    written = otlp_json.decode((result.run_dir / "trace.json").read_text())
    exported = ExportTraceServiceRequest()
    for path, content_type, body in bodies:
        assert path == "/v1/traces" and content_type == "application/x-protobuf"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        exported.resource_spans.extend(request.resource_spans)
    assert sorted(s.span_id for s in _spans(exported)) == sorted(s.span_id for s in _spans(written))
