"""The run's trace id, from `trace.json` (the engine's OTLP JSON), for finding the run's
spans (and, through the Locust baggage `gameday.run_trace`, the shop's) in a tracing
backend."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chaos.engine.tracing import TRACE_FILE

__all__ = ["run_trace_id"]


def run_trace_id(run_dir: Path) -> str | None:
    """The root span's trace id as 32 hex digits; None without a readable trace."""
    try:
        payload = json.loads((Path(run_dir) / TRACE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    for resource in payload.get("resourceSpans") or []:
        for scope in resource.get("scopeSpans") or []:
            for span in scope.get("spans") or []:
                if span.get("parentSpanId"):
                    continue
                trace_id = span.get("traceId")
                if isinstance(trace_id, str) and re.fullmatch(r"[0-9a-f]{32}", trace_id):
                    return trace_id
                return None
    return None
