"""Request-body decoding with the leniencies of Go's encoding/json that clients rely on.

Keys match field names case-insensitively, unknown keys are ignored, ``null`` keeps the
default, only the first JSON value of the body is read, and type mismatches are errors.
"""

from __future__ import annotations

import json
from typing import Any

from chaos.proxy.errors import InvalidRequest

_INT64_MAX = 2**63 - 1


def bad_body(detail: str) -> InvalidRequest:
    return InvalidRequest(f"bad request body: {detail}")


def parse_body(raw: bytes) -> Any:
    """The first JSON value of a request body; an empty body is ``EOF`` like in Go."""
    text = raw.decode("utf-8", errors="replace").lstrip()
    if not text:
        raise bad_body("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        raise bad_body(f"invalid character at offset {exc.pos}: {exc.msg}") from exc
    return value


def fields(obj: Any, names: tuple[str, ...], what: str) -> dict[str, Any]:
    """The known fields of a JSON object, matched case-insensitively; nulls dropped."""
    if not isinstance(obj, dict):
        raise bad_body(f"json: cannot unmarshal {json_kind(obj)} into Go value of type {what}")
    exact = {k: v for k, v in obj.items() if k in names}
    lowered = {n.lower(): n for n in names}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = key if key in names else lowered.get(key.lower())
        if name is None or value is None:
            continue
        if name in exact and key != name:
            continue
        out[name] = value
    return out


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {json.dumps(value)}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def field_type_error(value: Any, field: str, what: str, go_type: str) -> InvalidRequest:
    """Go's message for a JSON value that does not fit a struct field's type."""
    return bad_body(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field {what}.{field} "
        f"of type {go_type}"
    )


def want_str(value: Any, field: str, what: str) -> str:
    if not isinstance(value, str):
        raise field_type_error(value, field, what, "string")
    return value


def want_bool(value: Any, field: str, what: str) -> bool:
    if not isinstance(value, bool):
        raise field_type_error(value, field, what, "bool")
    return value


def want_float(value: Any, field: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise field_type_error(value, field, what, "float32")
    return float(value)


def want_int(value: Any, field: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _INT64_MAX:
        raise field_type_error(value, field, what, "int64")
    return value
