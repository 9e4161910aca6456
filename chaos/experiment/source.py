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


def parse_text(text: str, path: Path) -> Document:
    """Parse YAML (JSON is accepted as YAML) keeping line numbers; raise `ExperimentError`."""
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
    if duplicates:
        raise ExperimentError(
            [
                Issue(path, line, format_path(field), "duplicate key (YAML keeps only the last)")
                for field, line in duplicates
            ]
        )
    return Document(path=path, data=data, lines=lines)


def read_document(path: Path) -> Document:
    """Read and parse a file; a JSON file that YAML rejects gets JSON's own located error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ExperimentError([Issue(path, None, "", "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError([Issue(path, None, "", f"cannot read the file: {exc}")]) from exc
    try:
        return parse_text(text, path)
    except ExperimentError:
        if path.suffix.lower() != ".json":
            raise
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExperimentError(
                [Issue(path, exc.lineno, "", f"not valid JSON: {exc.msg}")]
            ) from exc
        return Document(path=path, data=data)
