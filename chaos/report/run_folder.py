"""Read the files of a run folder (docs/architecture.md, "Run folder") for a report.

Only `summary.json` is required; every other file may be missing (a run that could not
start has no load stream, an aborted one may have no journal). A torn last line of a JSONL
file (a run killed mid-write) is skipped; any other bad line is an error naming file and line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from chaos import jsonl
from chaos.jsonl import JsonObject
from chaos.report.errors import ReportError


def read_json(path: Path, required: bool = False) -> JsonObject:
    if not path.is_file():
        if required:
            raise ReportError(path, "missing; is this a run folder written by `gameday run`?")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(path, f"not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportError(path, "expected a JSON object")
    return data


def read_jsonl(path: Path) -> list[JsonObject]:
    return jsonl.read_jsonl(path, ReportError)


@dataclass
class RunFiles:
    """The parsed contents of one run folder."""

    run_dir: Path
    summary: JsonObject
    experiment: JsonObject = field(default_factory=dict)
    journal: JsonObject = field(default_factory=dict)
    timeline: list[JsonObject] = field(default_factory=list)
    ledger: list[JsonObject] = field(default_factory=list)
    stream: list[JsonObject] = field(default_factory=list)

    @property
    def load_dir(self) -> Path:
        return self.run_dir / "load"


def read_run_folder(run_dir: Path) -> RunFiles:
    if not run_dir.is_dir():
        raise ReportError(run_dir, "not a directory")
    summary = read_json(run_dir / "summary.json", required=True)
    for key in ("verdict", "exit_code"):
        if key not in summary:
            raise ReportError(run_dir / "summary.json", f"has no {key!r}")
    timeline = [
        event
        for event in read_jsonl(run_dir / "timeline.jsonl")
        if isinstance(event.get("ts"), int | float) and "kind" in event
    ]
    timeline.sort(key=lambda event: float(event["ts"]))
    return RunFiles(
        run_dir=run_dir,
        summary=summary,
        experiment=read_json(run_dir / "experiment.json"),
        journal=read_json(run_dir / "journal.json"),
        timeline=timeline,
        ledger=read_jsonl(run_dir / "ledger.jsonl"),
        stream=[line for line in read_jsonl(run_dir / "load" / "stream.jsonl") if "ts" in line],
    )
