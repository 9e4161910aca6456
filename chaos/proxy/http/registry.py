"""The HTTP toxic types: each one's own attributes and what it does to a request's plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chaos.proxy.http import abort, delay, first_n, reset
from chaos.proxy.http.matching import MATCH_ATTRIBUTES
from chaos.proxy.http.plan import RequestPlan

if TYPE_CHECKING:
    from chaos.proxy.toxics import ToxicSpec

Apply = Callable[["ToxicSpec", RequestPlan], bool]

_UNITS = {
    "http_abort": abort,
    "http_delay": delay,
    "http_first_n": first_n,
    "http_reset": reset,
}
HTTP_TOXIC_TYPES = frozenset(_UNITS)
APPLY: dict[str, Apply] = {name: unit.apply for name, unit in _UNITS.items()}
# Every attribute of each type with its default: the matchers first, then the type's own.
DEFAULTS: dict[str, dict[str, Any]] = {
    name: {**MATCH_ATTRIBUTES, **unit.ATTRIBUTES} for name, unit in _UNITS.items()
}
