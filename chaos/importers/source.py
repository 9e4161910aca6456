"""Reading a manifest so that nothing is dropped silently: every key an importer does not
take is reported as unmapped when the importer finishes with its mapping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos.importers.model import ManifestError, Unmapped

NO_EQUIVALENT = "no gameday equivalent"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class Report:
    """The unmapped fields of one import, and where its errors point."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unmapped: list[Unmapped] = []

    def left_out(self, field: str, value: Any, reason: str = NO_EQUIVALENT) -> None:
        self.unmapped.append(Unmapped(field, value, reason))

    def error(self, field: str, message: str) -> ManifestError:
        return ManifestError(self.path, field, message)


class Node:
    """A mapping of the manifest at `path`; `take` marks a key as used and `finish` reports
    every key that was not."""

    def __init__(self, data: Any, path: str, report: Report) -> None:
        if not isinstance(data, Mapping):
            raise report.error(path, f"must be a mapping, not {type(data).__name__}")
        self.data = data
        self.path = path
        self.report = report
        self._taken: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def take(self, key: str, default: Any = None) -> Any:
        self._taken.add(key)
        return self.data.get(key, default)

    def child(self, key: str) -> Node | None:
        value = self.take(key)
        return None if value is None else Node(value, self.where(key), self.report)

    def children(self, key: str) -> list[Node]:
        value = self.take(key) or []
        if not isinstance(value, list):
            raise self.report.error(self.where(key), "must be a list")
        return [Node(item, f"{self.where(key)}[{i}]", self.report) for i, item in enumerate(value)]

    def approximate(self, key: str, reason: str) -> Any:
        """Take a key that maps only roughly, and say how."""
        value = self.take(key)
        if value is not None:
            self.report.left_out(self.where(key), value, f"approximated: {reason}")
        return value

    def leave(self, key: str, reason: str) -> None:
        """A key with no equivalent, with the reason why."""
        value = self.take(key)
        if value is not None:
            self.report.left_out(self.where(key), value, reason)

    def drop(self, value: Any, reason: str) -> None:
        """Report the whole mapping as one unmapped field; its keys need no listing."""
        self.report.left_out(self.path, value, reason)
        self._taken.update(self.data)

    def finish(self) -> None:
        for key, value in self.data.items():
            if key not in self._taken:
                self.report.left_out(self.where(key), value)

    def number(self, key: str, default: float | None = None) -> float | None:
        value = self.take(key)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise self.report.error(self.where(key), f"{value!r} is not a number") from None

    def seconds(self, key: str, default: float | None = None) -> float | None:
        value = self.take(key)
        if value is None or value == "":
            return default
        return duration_s(value, self.where(key), self.report)


def duration_s(value: Any, where: str, report: Report) -> float:
    """A Go duration ("1m30s", "500ms") or a bare number of seconds, in seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise report.error(where, f"{value!r} is not a duration like 30s, 1m30s or 500ms")
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)
