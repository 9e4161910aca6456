"""Our settings in an experiment, kept where the Chaos Toolkit expects an extension's data.

The Chaos Toolkit convention is `extensions: [{name: gameday, target: ..., load: ...}]`.
Files written before that keep our keys at the top level; they still load, with a
`LegacyExperimentForm` warning naming the file, and are normalised to the extension form so
the journal and `experiment.json` only ever hold one shape.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos.experiment.source import Document, FieldPath

EXTENSION_NAME = "gameday"
GAMEDAY_KEYS = (
    "target",
    "load",
    "guardrails",
    "report",
    "runbook",
    "teaches",
    "hypothesis_frequency_s",
)


class LegacyExperimentForm(UserWarning):
    """An experiment keeps gameday settings at its top level instead of under `extensions`."""


def extension_index(data: Mapping[str, Any]) -> int | None:
    """Index of the `name: gameday` entry in `extensions`, if there is one."""
    extensions = data.get("extensions")
    if not isinstance(extensions, list):
        return None
    for index, entry in enumerate(extensions):
        if isinstance(entry, Mapping) and entry.get("name") == EXTENSION_NAME:
            return index
    return None


def gameday_settings(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """Our settings from either form (an old run's `experiment.json` may hold the top-level
    form); the extension's values win."""
    settings = {key: experiment[key] for key in GAMEDAY_KEYS if key in experiment}
    index = extension_index(experiment)
    if index is not None:
        entry = experiment["extensions"][index]
        settings.update({key: value for key, value in entry.items() if key != "name"})
    return settings


def model_fields(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """The flat mapping `Experiment` validates: the Chaos Toolkit's keys plus our settings."""
    fields = {key: value for key, value in experiment.items() if key != "extensions"}
    return fields | gameday_settings(experiment)


def settings_path(data: Mapping[str, Any], path: FieldPath) -> FieldPath:
    """Where a settings field (`("target", "replicas")`) is written in the file `data` came
    from: under the gameday extension unless the file uses the old top-level form."""
    if not path or path[0] not in GAMEDAY_KEYS or path[0] in data:
        return path
    index = extension_index(data)
    return path if index is None else ("extensions", index, *path)


def extension_issues(document: Document, data: Mapping[str, Any]) -> list[Any]:
    """Unknown keys in our extension, and settings given in both places."""
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, list):
        return [document.issue(("extensions",), "is a list of {name: ..., ...} entries")]
    index = extension_index(data)
    if index is None:
        return []
    issues = []
    entry = data["extensions"][index]
    for key in entry:
        if key != "name" and key not in GAMEDAY_KEYS:
            issues.append(
                document.issue(
                    ("extensions", index, key),
                    f"unknown gameday setting; known: {', '.join(GAMEDAY_KEYS)}",
                )
            )
        elif key in data:
            issues.append(
                document.issue(
                    (key,), f"set both here and under extensions[{index}]: keep only the latter"
                )
            )
    return issues


def normalise(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """`data` in the extension form; warns for the old form, naming the file."""
    legacy = [key for key in GAMEDAY_KEYS if key in data]
    settings = gameday_settings(data)
    if legacy:
        warnings.warn(
            LegacyExperimentForm(
                f"{path}: old form: {', '.join(legacy)} at the top level; move them under "
                f"`extensions: [{{name: {EXTENSION_NAME}, ...}}]`"
            ),
            stacklevel=2,
        )
    normalised = {key: value for key, value in data.items() if key not in GAMEDAY_KEYS}
    extensions = [dict(entry) for entry in data.get("extensions") or []]
    index = extension_index(data)
    entry = {"name": EXTENSION_NAME, **settings}
    if index is None:
        extensions.append(entry)
    else:
        extensions[index] = entry
    normalised["extensions"] = extensions
    return normalised
