"""Attributes of HTTP toxics from a create/update body: strings, integers and a header map.

Toxiproxy's own toxics have integer attributes only; HTTP toxics also take strings (the
matchers, the body) and an object (the answer's headers). Errors read like the rest of
the API's (Go's decoder messages for type mismatches, ``invalid attribute ...`` for
values no server should accept).
"""

from __future__ import annotations

import re
from typing import Any

from chaos.proxy import decoding
from chaos.proxy.errors import InvalidRequest
from chaos.proxy.http.registry import DEFAULTS

_GO_NAMES = {
    "http_abort": "HttpAbortToxic",
    "http_delay": "HttpDelayToxic",
    "http_first_n": "HttpFirstNToxic",
    "http_reset": "HttpResetToxic",
}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_UNSAFE = re.compile(r"[\r\n\x00]")


def decode(toxic_type: str, raw: Any, base: dict[str, Any] | None) -> dict[str, Any]:
    """Attributes of ``toxic_type``, keeping ``base`` (or the defaults) for omitted keys."""
    defaults = DEFAULTS[toxic_type]
    attrs = dict(base) if base is not None else {k: _copy(v) for k, v in defaults.items()}
    if raw is None:
        return attrs
    what = _GO_NAMES[toxic_type]
    for name, value in decoding.fields(raw, tuple(defaults), what).items():
        default = defaults[name]
        if isinstance(default, int):
            attrs[name] = decoding.want_int(value, name, what)
        elif isinstance(default, str):
            attrs[name] = decoding.want_str(value, name, what)
        else:
            attrs[name] = _want_headers(value, name, what)
    validate(attrs)
    return attrs


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


def _want_headers(value: Any, field: str, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise decoding.field_type_error(value, field, what, "map[string]string")
    return dict(value)


def validate(attrs: dict[str, Any]) -> None:
    """Reject values that would break HTTP framing or make no sense."""
    for name, value in attrs.items():
        if isinstance(value, int) and value < 0:
            raise InvalidRequest(f"invalid attribute {name}: must not be negative, got {value}")
        if isinstance(value, str) and name != "body" and _UNSAFE.search(value):
            raise InvalidRequest(f"invalid attribute {name}: must not contain CR, LF or NUL")
    status = attrs.get("http_status")
    if status is not None and not 200 <= status <= 599:
        raise InvalidRequest(f"invalid attribute http_status: must be 200-599, got {status}")
    for method in filter(None, (m.strip() for m in attrs["method"].split(","))):
        if not _TOKEN.match(method):
            raise InvalidRequest(f"invalid attribute method: {method!r} is not an HTTP method")
    header = attrs["header_name"]
    if header and not _TOKEN.match(header):
        raise InvalidRequest(f"invalid attribute header_name: {header!r} is not a header name")
    for name, value in attrs.get("headers", {}).items():
        if not _TOKEN.match(name) or _UNSAFE.search(value):
            raise InvalidRequest(f"invalid attribute headers: bad header {name!r}: {value!r}")
