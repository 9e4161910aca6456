"""What a source object contributes to the experiment being built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Parts:
    titles: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    method: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    probe_intervals_s: list[float] = field(default_factory=list)

    def namespace(self, name: str) -> None:
        if name not in self.namespaces:
            self.namespaces.append(name)
