"""Read the JSON Lines files of a run folder (timeline, ledger, load stream, history).

A torn last line (a run killed mid-write) is skipped; any other bad line is an error that
names the file and the line, raised as the caller's own typed error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]
ErrorFactory = Callable[[Path, str], Exception]


def read_jsonl(path: Path, error: ErrorFactory) -> list[JsonObject]:
    """Every JSON object line of `path` (none when the file is missing); a line that is not
    a JSON object raises `error(path, message)`."""
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(path, f"not readable: {exc}") from exc
    records: list[JsonObject] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                break
            raise error(path, f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise error(path, f"line {number}: expected a JSON object")
        records.append(record)
    return records
