"""What an importer hands back: the experiment it built and every field it could not map."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ImportTarget = Literal["k8s", "local", "mesh"]


class ManifestError(ValueError):
    """A manifest that cannot be imported: unreadable, not a known kind, or a field whose
    value is wrong. The message names the file and the field."""

    def __init__(self, path: Path, where: str, message: str) -> None:
        self.path = path
        self.where = where
        super().__init__(f"{path}: {where}: {message}" if where else f"{path}: {message}")


@dataclass(frozen=True)
class Unmapped:
    """One source field with no gameday equivalent (or only an approximate one)."""

    field: str  # the path in the source document, e.g. "spec.experiments[0].spec...env.JITTER"
    value: Any
    reason: str

    def __str__(self) -> str:
        value = json.dumps(self.value, default=str, ensure_ascii=False)
        return f"{self.field} = {value}: {self.reason}"


@dataclass
class ImportResult:
    """`experiment` is a plain mapping in the experiment file format (it validates as a
    `chaos.experiment.Experiment`); `unmapped` lists what was left out or approximated."""

    source: Path
    kinds: list[str]
    experiment: dict[str, Any]
    unmapped: list[Unmapped] = field(default_factory=list)
