"""Read a YAML or JSON document and remember the line of every field.

PyYAML's composer gives each node a start mark; walking the node tree next to the
constructed data yields a map from field path (a tuple of keys and indexes) to line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaos.experiment.errors import ExperimentError, Issue

FieldPath = tuple[str | int, ...]


@dataclass
class Document:
    """Parsed data plus the line (1-based) of each field path."""

    path: Path
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int | None:
        """The line of `path`, else of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def issue(self, path: FieldPath, message: str) -> Issue:
        return Issue(self.path, self.line_of(path), format_path(path), message)


def format_path(path: FieldPath) -> str:
    """`("method", 0, "provider", "func")` → `method[0].provider.func`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _record_lines(
    node: yaml.Node,
    path: FieldPath,
    lines: dict[FieldPath, int],
    duplicates: list[tuple[FieldPath, int]],
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key in seen and key != "<<":
                # YAML keeps the last value silently; a repeated key is almost always a slip.
                duplicates.append(((*path, key), key_node.start_mark.line + 1))
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record_lines(value_node, (*path, key), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines, duplicates)


def _compose(text: str, path: Path) -> tuple[Any, dict[FieldPath, int], list[Issue]]:
    """YAML data, the line of each field path, and an issue per repeated key; raise
    `ExperimentError` for text that is not YAML."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ExperimentError([Issue(path, line, "", f"not valid YAML/JSON: {problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ExperimentError([Issue(path, None, "", f"not valid YAML/JSON: {exc}")]) from exc
    finally:
        loader.dispose()
    lines: dict[FieldPath, int] = {}
    duplicates: list[tuple[FieldPath, int]] = []
    if node is not None:
        _record_lines(node, (), lines, duplicates)
    issues = [
        Issue(path, line, format_path(field), "duplicate key (only the last one would count)")
        for field, line in duplicates
    ]
    return data, lines, issues


def parse_text(text: str, path: Path) -> Document:
    """Parse YAML keeping line numbers; raise `ExperimentError`."""
    data, lines, duplicates = _compose(text, path)
    if duplicates:
        raise ExperimentError(duplicates)
    return Document(path=path, data=data, lines=lines)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _json_issue(path: Path, exc: json.JSONDecodeError) -> Issue:
    """The decoder's error, except that a trailing comma is named as one, at its line."""
    before = exc.doc[: exc.pos].rstrip()
    closing = exc.doc[exc.pos : exc.pos + 1]
    if before.endswith(",") and closing in ("}", "]"):
        comma = len(before) - 1
        line = exc.doc.count("\n", 0, comma) + 1
        column = comma - exc.doc.rfind("\n", 0, comma)
        return Issue(
            path, line, "", f"not valid JSON: a trailing comma before {closing!r} (column {column})"
        )
    return Issue(path, exc.lineno, "", f"not valid JSON: {exc.msg} (column {exc.colno})")


def parse_json(text: str, path: Path) -> Document:
    """Parse strict JSON: a trailing comma, a comment, a single-quoted string or NaN is an
    error with its line and column, even though YAML would take it. Field lines come from
    the same text read as YAML, which every JSON document is."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ExperimentError([_json_issue(path, exc)]) from exc
    except ValueError as exc:
        raise ExperimentError([Issue(path, None, "", f"not valid JSON: {exc}")]) from exc
    try:
        _, lines, duplicates = _compose(text, path)
    except ExperimentError:
        # Valid JSON that this YAML reader cannot take (a tab, say): fields lose their
        # lines, not their checks.
        return Document(path=path, data=data)
    if duplicates:
        raise ExperimentError(duplicates)
    return Document(path=path, data=data, lines=lines)


def read_document(path: Path) -> Document:
    """Read and parse a file: `.json` as strict JSON, anything else as YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ExperimentError([Issue(path, None, "", "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError([Issue(path, None, "", f"cannot read the file: {exc}")]) from exc
    if path.suffix.lower() == ".json":
        return parse_json(text, path)
    return parse_text(text, path)
