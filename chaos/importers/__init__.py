"""Experiments from other chaos tools: `import_manifest(path, target)` reads a LitmusChaos
ChaosEngine or Chaos Mesh objects and returns our experiment with every field it could not
map (`chaos.importers.litmus`, `chaos.importers.chaos_mesh`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from chaos.importers import chaos_mesh, litmus
from chaos.importers.assemble import experiment_from
from chaos.importers.document import render
from chaos.importers.model import ImportResult, ImportTarget, ManifestError, Unmapped
from chaos.importers.parts import Parts
from chaos.importers.source import Node, Report

__all__ = [
    "ImportResult",
    "ImportTarget",
    "ManifestError",
    "NothingToImport",
    "Unmapped",
    "import_manifest",
    "render",
]

LITMUS_GROUP = "litmuschaos.io/"
CHAOS_MESH_GROUP = "chaos-mesh.org/"


class NothingToImport(ManifestError):
    """The manifest holds no fault we can map; `unmapped` says why for each field."""

    def __init__(self, path: Path, unmapped: list[Unmapped]) -> None:
        self.unmapped = unmapped
        super().__init__(path, "", "nothing in it maps to a gameday fault")


def _documents(path: Path) -> list[object]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path, "", f"cannot be read: {exc}") from None
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ManifestError(path, where, f"not YAML: {getattr(exc, 'problem', exc)}") from None


def import_manifest(path: Path, target: ImportTarget = "k8s") -> ImportResult:
    """Read every document of `path`; raises ManifestError (located) or NothingToImport."""
    report = Report(path)
    parts = Parts()
    kinds: list[str] = []
    tags: list[str] = []
    documents = _documents(path)
    if not documents:
        raise ManifestError(path, "", "holds no document")
    for index, data in enumerate(documents):
        prefix = f"document {index + 1}" if len(documents) > 1 else ""
        document = Node(data, prefix, report)
        api_version = str(document.take("apiVersion") or "")
        kind = str(document.take("kind") or "")
        where = document.where("kind")
        if api_version.startswith(LITMUS_GROUP) and kind == "ChaosEngine":
            litmus.import_chaos_engine(document, target, parts)
            tags.append("litmuschaos")
        elif api_version.startswith(CHAOS_MESH_GROUP) and kind in chaos_mesh.KINDS:
            chaos_mesh.import_chaos(document, kind, target, parts)
            tags.append("chaos-mesh")
        else:
            report.left_out(where, f"{api_version} {kind}".strip(), "this kind is not imported")
            continue
        kinds.append(kind)
    if not parts.method:
        raise NothingToImport(path, report.unmapped)
    experiment = experiment_from(parts, path, target, tags[0])
    return ImportResult(path, kinds, experiment, report.unmapped)
