"""Run tracing: each run is an OpenTelemetry trace, run → phases → activities, with faults
as spans carrying their ledger id and hypothesis checks as events (value, tolerance, ok).

Spans follow the run's timeline (a listener, so they carry the timeline's own times) and
the Chaos Toolkit's activity hooks (this module is also a control, like the timeline
recorder: `controls: [{name: gameday-tracing, provider: {type: python, module:
chaos.engine.tracing}}]`, so a plain `chaos run` traces too). At the end the trace is
written to the run folder as OTLP JSON (`trace.json`, an ExportTraceServiceRequest) and,
when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, exported
over OTLP/HTTP by the SDK's exporter (the standard `OTEL_EXPORTER_OTLP_*` variables apply).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, Status, StatusCode

from chaos.engine import otlp_json
from chaos.engine.runs_folder import write_run_file
from chaos.engine.session import session_for
from chaos.engine.timeline import Event, Timeline
from chaos.safety.ledger import RUN_DIR_CONFIG_KEY

__all__ = ["CONTROL", "TRACE_FILE", "RunTracer", "start_run_trace"]

CONTROL = {
    "name": "gameday-tracing",
    "provider": {"type": "python", "module": "chaos.engine.tracing"},
}
TRACE_FILE = "trace.json"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
EXPORT_TIMEOUT_MS = 10_000

_tracers: dict[str, RunTracer] = {}
_registry_lock = threading.Lock()


def _ns(ts: float | None) -> int | None:
    return None if ts is None else int(ts * 1e9)


def _attribute(value: Any) -> str | bool | int | float:
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


class _Collector(SpanExporter):
    """Keeps every finished span for `trace.json`."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class RunTracer:
    """The trace of one run. Feed it timeline events (`on_event`) and activity hooks;
    `finish()` ends every open span and writes `trace.json`."""

    def __init__(self, run_dir: Path, title: str, started_at: float) -> None:
        self.run_dir = Path(run_dir)
        self._collector = _Collector()
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": "gameday", "gameday.run": self.run_dir.name})
        )
        self._provider.add_span_processor(SimpleSpanProcessor(self._collector))
        if any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer("chaos-gameday")
        self._lock = threading.Lock()
        self.run_span = self._tracer.start_span(
            f"run: {title}",
            start_time=_ns(started_at),
            attributes={"gameday.run_dir": str(self.run_dir), "gameday.title": title},
        )
        self._phases: dict[str, Span] = {}
        self._faults: dict[str, Span] = {}
        self._activities: dict[int, Span] = {}
        self._finished = False

    @property
    def trace_id(self) -> str:
        return format(self.run_span.get_span_context().trace_id, "032x")

    def _context(self, span: Span) -> Any:
        return trace.set_span_in_context(span)

    def _innermost_phase(self) -> Span:
        return next(reversed(self._phases.values()), self.run_span)

    # -- the timeline ----------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        with self._lock:
            if self._finished:
                return
            kind, ts = event.get("kind"), _ns(event.get("ts"))
            if kind == "phase":
                self._phase(str(event.get("name")), event.get("edge"), ts)
            elif kind == "fault":
                self._fault(event, ts)
            elif kind == "check":
                self._phases.get("method", self._innermost_phase()).add_event(
                    "check",
                    {
                        key: _attribute(event.get(key))
                        for key in ("probe", "phase", "value", "tolerance", "ok")
                        if event.get(key) is not None
                    },
                    timestamp=ts,
                )
            elif kind in ("guardrail", "abort", "rollback", "note"):
                fields = {k: _attribute(v) for k, v in event.items() if k not in ("ts", "kind")}
                self.run_span.add_event(str(kind), fields, timestamp=ts)
                if kind == "abort":
                    self.run_span.set_status(Status(StatusCode.ERROR, str(event.get("reason"))))

    def _phase(self, name: str, edge: Any, ts: int | None) -> None:
        if edge == "start" and name not in self._phases:
            self._phases[name] = self._tracer.start_span(
                f"phase: {name}", context=self._context(self.run_span), start_time=ts
            )
        elif edge == "end" and name in self._phases:
            self._phases.pop(name).end(end_time=ts)

    def _fault(self, event: Event, ts: int | None) -> None:
        key = str(event.get("id"))
        if event.get("edge") == "start" and key not in self._faults:
            self._faults[key] = self._tracer.start_span(
                f"fault: {event.get('name') or key}",
                context=self._context(self._innermost_phase()),
                start_time=ts,
                attributes={
                    "gameday.ledger_id": key,
                    "gameday.fault.target": _attribute(event.get("target") or ""),
                },
            )
        elif event.get("edge") == "end" and key in self._faults:
            span = self._faults.pop(key)
            span.set_attribute("gameday.fault.status", _attribute(event.get("status") or ""))
            span.end(end_time=ts)

    # -- the Chaos Toolkit's activities -------------------------------------------------

    def activity_started(self, activity: dict[str, Any]) -> None:
        with self._lock:
            if self._finished:
                return
            provider = activity.get("provider") or {}
            self._activities[id(activity)] = self._tracer.start_span(
                f"{activity.get('type', 'activity')}: {activity.get('name')}",
                context=self._context(self._innermost_phase()),
                attributes={
                    "gameday.activity.type": str(activity.get("type")),
                    "code.namespace": str(provider.get("module", "")),
                    "code.function": str(provider.get("func", "")),
                },
            )

    def activity_ended(self, activity: dict[str, Any], run: dict[str, Any]) -> None:
        with self._lock:
            span = self._activities.pop(id(activity), None)
            if span is None:
                return
            status = str(run.get("status"))
            span.set_attribute("gameday.activity.status", status)
            output = run.get("output")
            if isinstance(output, dict) and output.get("ledger_id"):
                span.set_attribute("gameday.ledger_id", str(output["ledger_id"]))
            elif output is not None:
                span.set_attribute("gameday.activity.output", str(output)[:200])
            if status != "succeeded":
                span.set_status(Status(StatusCode.ERROR, str(run.get("exception") or status)))
            span.end(end_time=_ns(_end_of(run)))

    # -- the end -----------------------------------------------------------------------

    def finish(self, verdict: str | None = None, ended_at: float | None = None) -> Path:
        """End what is still open, write `trace.json` (may raise `RunFolderWriteFailed`)
        and flush the OTLP export."""
        with self._lock:
            if not self._finished:
                self._finished = True
                end = _ns(ended_at)
                for span in [*self._activities.values(), *self._faults.values()]:
                    span.end(end_time=end)
                for span in reversed(list(self._phases.values())):
                    span.end(end_time=end)
                if verdict is not None:
                    self.run_span.set_attribute("gameday.verdict", verdict)
                self.run_span.end(end_time=end)
        with _registry_lock:
            _tracers.pop(str(self.run_dir.resolve()), None)
        try:
            self._provider.force_flush(EXPORT_TIMEOUT_MS)
            request = encode_spans(self._collector.spans)
            return write_run_file(self.run_dir, TRACE_FILE, otlp_json.encode(request) + "\n")
        finally:
            self._provider.shutdown()


def _end_of(run: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(run["end"])).timestamp()
    except (KeyError, ValueError):
        return None


def start_run_trace(run_dir: Path, title: str, timeline: Timeline, started_at: float) -> RunTracer:
    """A tracer for the run in `run_dir`, fed by `timeline` and found by the control."""
    tracer = RunTracer(run_dir, title, started_at)
    timeline.subscribe(tracer.on_event)
    with _registry_lock:
        _tracers[str(Path(run_dir).resolve())] = tracer
    return tracer


def _tracer_for(configuration: Any) -> RunTracer | None:
    run_dir = (configuration or {}).get(RUN_DIR_CONFIG_KEY)
    if not run_dir:
        return None
    with _registry_lock:
        return _tracers.get(str(Path(run_dir).resolve()))


# -- the Chaos Toolkit control ---------------------------------------------------------
# Under `gameday run` the engine owns the tracer; under a plain `chaos run` the control
# starts one on the run's timeline before the experiment and finishes it after.

_owned: set[str] = set()


def before_experiment_control(context: Any, configuration: Any = None, **_: Any) -> None:
    run_dir = (configuration or {}).get(RUN_DIR_CONFIG_KEY)
    if not run_dir or _tracer_for(configuration) is not None:
        return
    title = str((context or {}).get("title", "experiment")) if isinstance(context, dict) else ""
    session = session_for(run_dir)
    tracer = start_run_trace(Path(run_dir), title, session.timeline, datetime.now().timestamp())
    _owned.add(str(tracer.run_dir.resolve()))


def before_activity_control(context: Any, configuration: Any = None, **_: Any) -> None:
    tracer = _tracer_for(configuration)
    if tracer is not None and isinstance(context, dict):
        tracer.activity_started(context)


def after_activity_control(
    context: Any, state: Any = None, configuration: Any = None, **_: Any
) -> None:
    tracer = _tracer_for(configuration)
    if tracer is not None and isinstance(context, dict):
        tracer.activity_ended(context, state or {})


def after_experiment_control(
    context: Any, state: Any = None, configuration: Any = None, **_: Any
) -> None:
    tracer = _tracer_for(configuration)
    if tracer is None or str(tracer.run_dir.resolve()) not in _owned:
        return
    _owned.discard(str(tracer.run_dir.resolve()))
    tracer.finish(str((state or {}).get("status")) if isinstance(state, dict) else None)
