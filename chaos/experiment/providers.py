"""Check python providers before anything runs: module and function exist, the arguments
bind to the signature, typed parameters accept their values, and durations and
percentages are in range."""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chaos.experiment.source import Document, FieldPath

# Arguments the Chaos Toolkit fills in itself when the function declares them.
INJECTED = frozenset({"configuration", "secrets"})
DURATION_NAME = re.compile(r"(^|_)(duration|timeout|window|seconds|pause)($|_)|_s$|_ms$")
PERCENT_NAME = re.compile(r"(^|_)(percent|percentage|pct)$")
FRACTION_NAME = re.compile(r"^(toxicity|ratio|fraction|probability)$")


def _import(module: str, func: str) -> tuple[Callable[..., Any] | None, str, str]:
    """(function, "", "") or (None, field at fault, problem)."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None, "module", f"module {module!r} not found"
        return None, "module", f"module {module!r} cannot be imported: {exc}"
    except Exception as exc:  # noqa: BLE001 - any import-time failure is the user's to see
        return None, "module", f"module {module!r} cannot be imported: {exc!r}"
    target = getattr(mod, func, None)
    if target is None:
        return None, "func", f"module {module!r} has no function {func!r}"
    if not callable(target):
        return None, "func", f"{module}.{func} is not a function"
    return target, "", ""


def _range_issue(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if PERCENT_NAME.search(name) and not 0 <= value <= 100:
        return f"{name} is a percentage (0–100), not {value}"
    if FRACTION_NAME.search(name) and not 0 <= value <= 1:
        return f"{name} is a fraction (0–1), not {value}"
    if DURATION_NAME.search(name) and value < 0:
        return f"{name} is a duration and cannot be negative ({value})"
    return None


def _type_issue(hints: dict[str, Any], name: str, value: Any) -> str | None:
    annotation = hints.get(name)
    if annotation is None or annotation is typing.Any:
        return None
    if isinstance(value, str) and "${" in value:
        return None  # a secret the Chaos Toolkit fills in at run time
    try:
        adapter = TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - an annotation pydantic cannot model is not checked
        return None
    try:
        adapter.validate_python(value, strict=isinstance(value, str))
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        return f"{name}={value!r} does not fit the parameter type: {reason}"
    return None


def check_python_provider(
    document: Document,
    path: FieldPath,
    module: str,
    func: str,
    arguments: dict[str, Any],
    extra_injected: frozenset[str] = frozenset(),
) -> list[Any]:
    """Issues for one python provider at `path` (the provider mapping's field path)."""
    target, field, problem = _import(module, func)
    if target is None:
        return [document.issue((*path, field), problem)]
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    params = signature.parameters
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    issues = []
    for name in arguments:
        if name in INJECTED:
            issues.append(
                document.issue(
                    (*path, "arguments", name),
                    f"{name!r} is passed by the Chaos Toolkit itself; do not set it",
                )
            )
        elif name in params and params[name].kind is inspect.Parameter.POSITIONAL_ONLY:
            issues.append(
                document.issue(
                    (*path, "arguments", name),
                    f"{module}.{func} takes {name!r} only by position; "
                    "the Chaos Toolkit passes arguments by name",
                )
            )
        elif name not in params and not accepts_kwargs:
            known = ", ".join(n for n in params if n not in INJECTED | extra_injected) or "none"
            issues.append(
                document.issue(
                    (*path, "arguments", name),
                    f"{module}.{func} has no parameter {name!r} (parameters: {known})",
                )
            )
    for name, param in params.items():
        if name in INJECTED | extra_injected:
            continue
        if param.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        if param.default is inspect.Parameter.empty and name not in arguments:
            issues.append(
                document.issue((*path, "arguments"), f"{module}.{func} needs argument {name!r}")
            )
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 - unresolvable hints are simply not checked
        hints = {}
    for name, value in arguments.items():
        if name in INJECTED or (name not in params and not accepts_kwargs):
            continue
        problem = _type_issue(hints, name, value) or _range_issue(name, value)
        if problem:
            issues.append(document.issue((*path, "arguments", name), problem))
    return issues
