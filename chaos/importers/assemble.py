"""The imported parts as an experiment in our file format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.experiment.extension import EXTENSION_NAME
from chaos.importers.model import ImportTarget
from chaos.importers.parts import Parts

MIN_FREQUENCY_S, MAX_FREQUENCY_S = 0.2, 300.0


def experiment_from(parts: Parts, source: Path, target: ImportTarget, tag: str) -> dict[str, Any]:
    settings: dict[str, Any] = {"name": EXTENSION_NAME, "target": {"kind": target}}
    configuration: dict[str, Any] = {}
    description = f"Imported from {source.name} by gameday import: {'; '.join(parts.descriptions)}."
    if target == "k8s":
        # The source runs against an application we know nothing about: no load profile
        # of ours fits it, so none runs unless the user adds one (load.host, locustfile).
        settings["load"] = False
        configuration["k8s_namespaces"] = list(parts.namespaces)
    if parts.probe_intervals_s:
        interval = min(parts.probe_intervals_s)
        settings["hypothesis_frequency_s"] = min(MAX_FREQUENCY_S, max(MIN_FREQUENCY_S, interval))
    experiment: dict[str, Any] = {
        "version": "1.0.0",
        "title": " + ".join(parts.titles),
        "description": description,
        "tags": ["imported", tag],
        "extensions": [settings],
    }
    if configuration:
        experiment["configuration"] = configuration
    if parts.probes:
        experiment["steady-state-hypothesis"] = {
            "title": "The source's probes hold",
            "probes": parts.probes,
        }
    experiment["method"] = parts.method
    experiment["rollbacks"] = parts.rollbacks
    return experiment
