"""The experiment file `gameday import` writes: YAML with the unmapped fields listed in a
comment at its top."""

from __future__ import annotations

import yaml

from chaos.importers.model import ImportResult


def header(result: ImportResult) -> str:
    lines = [f"Imported by `gameday import` from {result.source} ({', '.join(result.kinds)})."]
    if result.unmapped:
        lines.append("Fields with no gameday equivalent, or only an approximate one:")
        lines += [f"  - {item}" for item in result.unmapped]
    else:
        lines.append("Every field of the source mapped.")
    return "".join(f"# {line}\n" for line in lines)


def render(result: ImportResult) -> str:
    body = yaml.safe_dump(result.experiment, sort_keys=False, width=100, allow_unicode=True)
    return header(result) + body
