"""Check a hypothesis probe's tolerance the way the Chaos Toolkit will read it."""

from __future__ import annotations

import re
from numbers import Number
from typing import Any

from chaos.experiment.errors import Issue
from chaos.experiment.providers import check_python_provider
from chaos.experiment.source import Document, FieldPath

TOLERANCE_TYPES = ("range", "regex", "jsonpath", "probe")


def check_tolerance(document: Document, path: FieldPath, tolerance: Any) -> list[Issue]:
    """Issues for the tolerance at `path` (missing, float, malformed range/regex/probe)."""
    if tolerance is None:
        return [document.issue(path, "a hypothesis probe needs a tolerance")]
    if isinstance(tolerance, bool | int | str):
        return []
    if isinstance(tolerance, float):
        return [
            document.issue(
                path,
                f"a float tolerance ({tolerance}) is not supported by the Chaos Toolkit; "
                "use {type: range, range: [low, high]}",
            )
        ]
    if isinstance(tolerance, list):
        if not tolerance:
            return [document.issue(path, "a list tolerance cannot be empty")]
        return []
    if not isinstance(tolerance, dict):
        return [document.issue(path, f"unsupported tolerance {tolerance!r}")]
    kind = tolerance.get("type")
    if kind not in TOLERANCE_TYPES:
        return [
            document.issue(
                (*path, "type"),
                f"tolerance type must be one of {', '.join(TOLERANCE_TYPES)}, not {kind!r}",
            )
        ]
    if kind == "range":
        bounds = tolerance.get("range")
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, Number) and not isinstance(b, bool) for b in bounds)
        ):
            return [document.issue((*path, "range"), "a range is a list of two numbers")]
        if bounds[0] > bounds[1]:
            return [document.issue((*path, "range"), f"range low {bounds[0]} > high {bounds[1]}")]
        return []
    if kind == "regex":
        pattern = tolerance.get("pattern")
        if not isinstance(pattern, str):
            return [document.issue((*path, "pattern"), "a regex tolerance needs a `pattern`")]
        try:
            re.compile(pattern)
        except re.error as exc:
            return [document.issue((*path, "pattern"), f"invalid regex: {exc}")]
        return []
    if kind == "jsonpath":
        if not isinstance(tolerance.get("path"), str) or not tolerance["path"].strip():
            return [document.issue((*path, "path"), "a jsonpath tolerance needs a `path`")]
        return []
    provider = tolerance.get("provider")
    if not isinstance(provider, dict):
        return [document.issue((*path, "provider"), "a probe tolerance needs a provider")]
    if provider.get("type") != "python":
        return []
    module, func = provider.get("module"), provider.get("func")
    if not isinstance(module, str) or not isinstance(func, str):
        return [document.issue((*path, "provider"), "a python provider needs module and func")]
    arguments = provider.get("arguments") or {}
    # The Chaos Toolkit passes the probe's value as `value`.
    return check_python_provider(
        document, (*path, "provider"), module, func, arguments, frozenset({"value"})
    )
