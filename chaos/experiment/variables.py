"""Configuration overrides and `${name}` substitution, the way the Chaos Toolkit does them.

- `--var key=value` (or `key:type=value`, type one of int, float, bool, str, json, bytes)
  sets configuration `key`;
- `--var-file F`: a JSON/YAML file with top-level `configuration` and/or `secrets`
  mappings, or a `.env` file whose variables feed `{"type": "env"}` configuration entries;
- configuration entries `{"type": "env", "key": K, "default": D, "env_var_type": T}` read
  the environment;
- `${name}` in any string of the experiment is replaced by the configuration value (a
  string that is exactly `${name}` takes the value with its type); names that are secrets
  stay for the Chaos Toolkit to fill at run time, so secrets never reach the run folder.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoslib import convert_to_type
from dotenv import dotenv_values
from dotenv.parser import parse_stream

from chaos.experiment.errors import ExperimentError, Issue
from chaos.experiment.source import Document, FieldPath, read_document

VAR_PATTERN = re.compile(r"^(?P<key>[A-Za-z_][\w.-]*)(?::(?P<type>\w+))?=(?P<value>.*)$", re.S)
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
VAR_TYPES = ("str", "string", "int", "integer", "float", "number", "bool", "json", "bytes")


@dataclass
class Variables:
    """Configuration overrides, secret overrides and extra environment from vars."""

    configuration: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)


def parse_var(text: str) -> tuple[str, Any]:
    """`key=value` or `key:type=value` → (key, typed value); ValueError when malformed."""
    match = VAR_PATTERN.match(text)
    if not match:
        raise ValueError(f"--var {text!r} must look like key=value or key:type=value")
    kind = match["type"]
    if kind is not None and kind not in VAR_TYPES:
        raise ValueError(f"--var {text!r}: unknown type {kind!r} (one of {', '.join(VAR_TYPES)})")
    try:
        return match["key"], convert_to_type(kind, match["value"])
    except ValueError as exc:
        raise ValueError(f"--var {text!r}: {match['value']!r} is not a valid {kind}") from exc


def _parse_dotenv(path: Path) -> dict[str, str]:
    """python-dotenv's reading (quotes, escapes, `export`, inline comments, `${VAR}`), with
    a located error for a line it cannot parse instead of its logged warning and skip."""
    text = path.read_text(encoding="utf-8")
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            found = binding.original.string.strip()
            issue = Issue(path, binding.original.line, "", f"expected KEY=value, not {found!r}")
            raise ExperimentError([issue])
    values = dotenv_values(stream=io.StringIO(text))
    return {key: value for key, value in values.items() if value is not None}


def load_var_file(path: Path, into: Variables) -> None:
    """Merge one var file into `into` (later files override earlier ones)."""
    if path.suffix == ".env" or path.name.startswith(".env"):
        if not path.is_file():
            raise ExperimentError([Issue(path, None, "", "var file not found")])
        into.environ.update(_parse_dotenv(path))
        return
    document = read_document(path)
    data = document.data
    if data is None:
        return
    if not isinstance(data, dict) or not set(data) <= {"configuration", "secrets"}:
        raise ExperimentError(
            [document.issue((), "a var file is a mapping with `configuration` and/or `secrets`")]
        )
    configuration = data.get("configuration") or {}
    secrets = data.get("secrets") or {}
    if not isinstance(configuration, dict):
        raise ExperimentError([document.issue(("configuration",), "must be a mapping")])
    if not isinstance(secrets, dict) or not all(isinstance(v, dict) for v in secrets.values()):
        raise ExperimentError(
            [document.issue(("secrets",), "must map scopes to mappings of secrets")]
        )
    into.configuration.update(configuration)
    for scope, values in secrets.items():
        into.secrets.setdefault(scope, {}).update(values)


def collect_variables(vars: Mapping[str, Any], var_files: list[Path]) -> Variables:
    """Var files in order, then `--var`s (which win)."""
    variables = Variables()
    for path in var_files:
        load_var_file(Path(path), variables)
    variables.configuration.update(vars)
    return variables


def _resolve_entry(
    document: Document, path: FieldPath, value: Any, environ: Mapping[str, str]
) -> Any:
    if not (isinstance(value, dict) and value.get("type") == "env"):
        return value
    key = value.get("key")
    if not isinstance(key, str):
        raise ExperimentError([document.issue((*path, "key"), "an env entry needs a `key`")])
    if key in environ:
        raw: Any = environ[key]
    elif "default" in value:
        return value["default"]
    else:
        raise ExperimentError(
            [document.issue(path, f"environment variable {key} is not set and has no default")]
        )
    try:
        return convert_to_type(value.get("env_var_type"), raw)
    except ValueError as exc:
        raise ExperimentError(
            [document.issue(path, f"environment variable {key}={raw!r}: {exc}")]
        ) from exc


def resolve_configuration(document: Document, variables: Variables) -> dict[str, Any]:
    """The experiment's configuration with env entries read and var overrides applied."""
    raw = document.data.get("configuration") if isinstance(document.data, dict) else None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ExperimentError([document.issue(("configuration",), "must be a mapping")])
    environ = {**os.environ, **variables.environ}
    resolved = {
        key: _resolve_entry(document, ("configuration", key), value, environ)
        for key, value in raw.items()
    }
    resolved.update(variables.configuration)
    return resolved


def secret_names(document: Document, variables: Variables) -> set[str]:
    names: set[str] = set()
    raw = document.data.get("secrets") if isinstance(document.data, dict) else None
    for scope in (raw or {}, variables.secrets):
        if isinstance(scope, dict):
            for values in scope.values():
                if isinstance(values, dict):
                    names.update(values)
    return names


def substitute(
    document: Document,
    value: Any,
    path: FieldPath,
    configuration: Mapping[str, Any],
    secrets: set[str],
    issues: list[Issue],
) -> Any:
    """Replace `${name}` placeholders below `path`; unknown names become issues."""
    if isinstance(value, dict):
        return {
            k: substitute(document, v, (*path, k), configuration, secrets, issues)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            substitute(document, v, (*path, i), configuration, secrets, issues)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = PLACEHOLDER.fullmatch(value)
    if whole and whole[1] in configuration:
        return configuration[whole[1]]

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name in configuration:
            return str(configuration[name])
        if name not in secrets:
            issues.append(
                document.issue(
                    path,
                    f"unknown variable ${{{name}}}: not in configuration, secrets or --var",
                )
            )
        return match[0]

    return PLACEHOLDER.sub(replace, value)
