"""OTLP's JSON encoding of trace requests: protobuf's JSON mapping, except that trace and
span ids are hex strings (not base64) and enums are integers, as OTLP/HTTP JSON receivers
and collectors' file readers expect."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from google.protobuf.json_format import MessageToDict, ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["decode", "encode"]

ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


def _recode_ids(node: Any, convert: Callable[[str], str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                node[key] = convert(value)
            else:
                _recode_ids(value, convert)
    elif isinstance(node, list):
        for item in node:
            _recode_ids(item, convert)


def encode(request: ExportTraceServiceRequest) -> str:
    """The request as OTLP JSON."""
    data = MessageToDict(request, use_integers_for_enums=True)
    _recode_ids(data, lambda value: base64.b64decode(value).hex())
    return json.dumps(data, indent=2)


def decode(text: str) -> ExportTraceServiceRequest:
    """An OTLP JSON trace request (raises ValueError or protobuf's ParseError)."""
    data = json.loads(text)
    _recode_ids(data, lambda value: base64.b64encode(bytes.fromhex(value)).decode("ascii"))
    return ParseDict(data, ExportTraceServiceRequest())
