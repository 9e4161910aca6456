"""Read the files of a run folder that the gates need: summary, timeline, load stream.

The layout is fixed in docs/architecture.md ("Run folder"); this module only parses it and
raises `RunFolderError` naming the file and line when something does not fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from chaos import jsonl
from chaos.gates.errors import RunFolderError


class RunSummary(BaseModel):
    """`summary.json` as the engine writes it (extra keys are kept, not required)."""

    model_config = ConfigDict(extra="allow")

    verdict: str
    exit_code: int
    title: str = ""
    slug: str = ""
    started_at: str | float | None = None
    ended_at: str | float | None = None
    target: Any = None
    reason: str | None = None


class FaultWindow(BaseModel):
    """One fault from its timeline start event to its end event (unix seconds)."""

    id: str
    name: str = ""
    target: Any = None
    start: float
    end: float | None  # None: the fault never ended inside the run (a crash)


def read_summary(run_dir: Path) -> RunSummary:
    path = run_dir / "summary.json"
    if not path.is_file():
        raise RunFolderError(path, "missing; is this a run folder written by `gameday run`?")
    try:
        return RunSummary.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RunFolderError(path, f"not a valid run summary: {exc}") from exc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON object line of `path`; a torn last line (a run killed mid-write) is skipped."""
    return jsonl.read_jsonl(path, RunFolderError)


def read_timeline(run_dir: Path) -> list[dict[str, Any]]:
    return read_jsonl(run_dir / "timeline.jsonl")


def read_stream(run_dir: Path) -> list[dict[str, Any]]:
    return read_jsonl(run_dir / "load" / "stream.jsonl")


def fault_windows(timeline: list[dict[str, Any]]) -> list[FaultWindow]:
    """Pair each fault's start and end events by id, in start order."""
    windows: dict[str, FaultWindow] = {}
    for event in timeline:
        if event.get("kind") != "fault" or "ts" not in event:
            continue
        fault_id = str(event.get("id", event.get("name", "")))
        if event.get("edge") == "start" and fault_id not in windows:
            windows[fault_id] = FaultWindow(
                id=fault_id,
                name=str(event.get("name", "")),
                target=event.get("target"),
                start=float(event["ts"]),
                end=None,
            )
        elif event.get("edge") == "end" and fault_id in windows:
            windows[fault_id].end = float(event["ts"])
    return sorted(windows.values(), key=lambda window: window.start)
