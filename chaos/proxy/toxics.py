"""Toxic configuration: the types, their integer attributes, validation and JSON form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chaos.proxy import decoding
from chaos.proxy.errors import AlreadyExists, InvalidRequest
from chaos.proxy.http import attributes as http_attributes
from chaos.proxy.http.registry import HTTP_TOXIC_TYPES
from chaos.proxy.http.stats import HttpToxicStats

# Attribute names per toxic type, in the order Toxiproxy serialises them.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    "noop": (),
}
_GO_NAMES = {
    "latency": "LatencyToxic",
    "bandwidth": "BandwidthToxic",
    "slow_close": "SlowCloseToxic",
    "timeout": "TimeoutToxic",
    "reset_peer": "ResetToxic",
    "slicer": "SlicerToxic",
    "limit_data": "LimitDataToxic",
    "noop": "NoopToxic",
}
STREAMS = ("upstream", "downstream")


@dataclass
class ToxicSpec:
    """One toxic of a proxy. ``stream`` keeps the spelling the client sent.

    Toxiproxy's toxics have integer attributes; HTTP toxics also have strings and a header
    map, and ``stats`` (shared by every version of the toxic across updates).
    """

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any]
    ttl_ms: int | None = None
    stats: HttpToxicStats | None = None

    @property
    def is_http(self) -> bool:
        return self.stats is not None

    @property
    def direction(self) -> str:
        return self.stream.lower()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": _go_float(self.toxicity),
        }
        if self.ttl_ms is not None:
            out["ttl_ms"] = self.ttl_ms
        if self.stats is not None:
            out["stats"] = self.stats.to_json()
        return out


def _go_float(value: float) -> float | int:
    # Go prints whole float32 values without a fraction (1, not 1.0).
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def parse_stream(stream: str) -> str:
    if stream.lower() not in STREAMS:
        raise InvalidRequest("stream was invalid, can be either upstream or downstream")
    return stream


def decode_attributes(toxic_type: str, raw: Any, base: dict[str, Any] | None) -> dict[str, Any]:
    """Attributes of ``toxic_type`` from a JSON object, keeping ``base`` for omitted keys."""
    if toxic_type in HTTP_TOXIC_TYPES:
        return http_attributes.decode(toxic_type, raw, base)
    names = ATTRIBUTES[toxic_type]
    attrs = dict(base) if base is not None else dict.fromkeys(names, 0)
    if raw is None:
        return attrs
    what = _GO_NAMES[toxic_type]
    for name, value in decoding.fields(raw, names, what).items():
        attrs[name] = decoding.want_int(value, name, what)
    validate_attributes(toxic_type, attrs)
    return attrs


def validate_attributes(toxic_type: str, attrs: dict[str, int]) -> None:
    """Reject values that would crash or hang a Toxiproxy server instead of passing them on."""
    for name, value in attrs.items():
        if value < 0:
            raise InvalidRequest(f"invalid attribute {name}: must not be negative, got {value}")
    if toxic_type == "slicer":
        if attrs["average_size"] < 1:
            raise InvalidRequest("invalid attribute average_size: must be at least 1")
        if attrs["size_variation"] >= attrs["average_size"]:
            raise InvalidRequest(
                "invalid attribute size_variation: must be smaller than average_size"
            )


def decode_new_toxic(raw: Any, existing_names: set[str]) -> ToxicSpec:
    """A toxic from a create body, checked in Toxiproxy's order (stream, type, name, attrs)."""
    top = decoding.fields(
        raw, ("name", "type", "stream", "toxicity", "attributes", "ttl_ms"), "ToxicWrapper"
    )
    name = decoding.want_str(top.get("name", ""), "name", "ToxicWrapper")
    toxic_type = decoding.want_str(top.get("type", ""), "type", "ToxicWrapper")
    stream = decoding.want_str(top.get("stream", "downstream"), "stream", "ToxicWrapper")
    toxicity = decoding.want_float(top.get("toxicity", 1.0), "toxicity", "ToxicWrapper")
    ttl_ms = _decode_ttl(top.get("ttl_ms"))
    parse_stream(stream)
    if not name:
        name = f"{toxic_type}_{stream}"
    if toxic_type not in ATTRIBUTES and toxic_type not in HTTP_TOXIC_TYPES:
        raise InvalidRequest("invalid toxic type")
    if name in existing_names:
        raise AlreadyExists("toxic already exists")
    attrs = decode_attributes(toxic_type, top.get("attributes"), None)
    stats = HttpToxicStats() if toxic_type in HTTP_TOXIC_TYPES else None
    return ToxicSpec(name, toxic_type, stream, toxicity, attrs, ttl_ms, stats)


def decode_toxic_update(raw: Any, current: ToxicSpec) -> ToxicSpec:
    """A copy of ``current`` with the body's attributes, toxicity and ttl_ms applied."""
    top = decoding.fields(raw, ("attributes", "toxicity", "ttl_ms"), "ToxicWrapper")
    toxicity = current.toxicity
    if "toxicity" in top:
        toxicity = decoding.want_float(top["toxicity"], "toxicity", "ToxicWrapper")
    attrs = decode_attributes(current.type, top.get("attributes"), current.attributes)
    ttl_ms = _decode_ttl(top.get("ttl_ms"))
    return ToxicSpec(
        current.name,
        current.type,
        current.stream,
        toxicity,
        attrs,
        ttl_ms if ttl_ms is not None else current.ttl_ms,
        current.stats,
    )


def _decode_ttl(value: Any) -> int | None:
    if value is None:
        return None
    ttl = decoding.want_int(value, "ttl_ms", "ToxicWrapper")
    if ttl <= 0:
        raise InvalidRequest(f"invalid ttl_ms: must be positive, got {ttl}")
    return ttl


def dumps(value: Any) -> bytes:
    """Compact JSON escaped the way Go's encoding/json escapes HTML characters."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.encode()
