"""Which requests an HTTP toxic applies to: method, path glob, one header (name + value glob).

The names follow Chaos Mesh's HTTPChaos and Istio's route match: ``method`` (one method or
a comma-separated list), ``path`` (a glob over the path without the query, ``*`` crosses
``/``), ``header_name`` and ``header_value`` (a glob; the name is case-insensitive). An
empty matcher matches everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

import h11

MATCH_ATTRIBUTES: dict[str, str] = {
    "method": "",
    "path": "",
    "header_name": "",
    "header_value": "",
}


@dataclass(frozen=True)
class RequestHead:
    """The parts of a request line and headers that toxics look at."""

    method: str
    path: str
    headers: list[tuple[str, str]]  # names lower-cased, in arrival order

    @classmethod
    def from_event(cls, event: h11.Request) -> RequestHead:
        target = event.target.decode("latin-1")
        if not target.startswith("/"):
            # absolute-form (a request meant for a forward proxy) or "*"
            target = urlsplit(target).path or target
        path = target.split("?", 1)[0]
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in event.headers]
        return cls(event.method.decode("latin-1"), path, headers)

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


def matches(attributes: dict[str, Any], head: RequestHead) -> bool:
    """Whether every matcher that is set accepts ``head``."""
    method = attributes["method"]
    if method and head.method not in {m.strip().upper() for m in method.split(",")}:
        return False
    path = attributes["path"]
    if path and not fnmatchcase(head.path, path):
        return False
    name = attributes["header_name"]
    if name:
        pattern = attributes["header_value"] or "*"
        return any(fnmatchcase(value, pattern) for value in head.header(name.lower()))
    return True
