"""What the console shows, read from the runs folder alone (the terminal view reads the
same files): which run is in progress, its timeline, load stream, ledger and summary.

A `RunCursor` belongs to one page: `snapshot()` is everything so far, `changes()` only
what was appended since (new timeline events and load seconds by byte offset; the ledger,
summary and game-day state when their files changed), so a page is pushed increments, never
the whole state again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos import bundled
from chaos.experiment.extension import gameday_settings
from chaos.gameday.active import active_run
from chaos.gameday.errors import NoActiveRun
from chaos.safety.ledger import Ledger
from chaos.safety.runner_registry import list_runners

SECOND_FIELDS = ("ts", "requests", "failures", "rps", "error_rate", "p50", "p95", "p99")
MAX_SECONDS = 900
RUNBOOK_MAX_CHARS = 20_000


class JsonlTail:
    """Whole lines appended to a JSONL file since the last read (damaged lines skipped)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            if self.path.stat().st_size == self.offset:
                return []
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return []
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        rows = []
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_gameday_dir(path: Path) -> bool:
    return (path / "gameday.json").is_file()


def _second(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in SECOND_FIELDS}


def _runbook_text(reference: str | None, run_dir: Path) -> str | None:
    """The runbook's Markdown, looked up as the experiment names it (relative paths from
    the working directory, then from the checkout the experiment came from, then from the
    bundled runbooks)."""
    if not reference:
        return None
    candidates = [
        Path(reference),
        Path.cwd() / reference,
        run_dir.parent.parent / reference,
        bundled.root() / reference,
    ]
    for candidate in candidates:
        try:
            return candidate.read_text(encoding="utf-8")[:RUNBOOK_MAX_CHARS]
        except OSError:
            continue
    return None


def _experiment_info(run_dir: Path) -> dict[str, Any]:
    experiment = _read_json(run_dir / "experiment.json") or {}
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    probes = [
        {"name": str(probe.get("name", "")), "tolerance": probe.get("tolerance")}
        for probe in hypothesis.get("probes", [])
        if isinstance(probe, dict)
    ]
    runbook = gameday_settings(experiment).get("runbook")
    return {
        "title": str(experiment.get("title") or run_dir.name),
        "description": str(experiment.get("description") or ""),
        "probes": probes,
        "runbook": str(runbook) if runbook else None,
        "runbook_text": _runbook_text(str(runbook) if runbook else None, run_dir),
    }


def _faults(ledger_path: Path) -> list[dict[str, Any]]:
    entries = Ledger(ledger_path).read().history
    latest: dict[str, Any] = {}
    for entry in entries:
        latest[entry.id] = entry
    return [
        {
            "id": entry.id,
            "kind": entry.kind,
            "target": entry.target,
            "status": entry.status,
            "since": entry.ts,
            "expires_at": entry.expires_at,
            "outstanding": entry.outstanding,
        }
        for entry in latest.values()
    ]


@dataclass
class Followed:
    """The run folder and the game-day folder the console follows (None: not yet)."""

    run_dir: Path | None = None
    gameday_dir: Path | None = None


def locate(runs_dir: Path, previous: Followed) -> Followed:
    """Follow the run in progress; keep showing the last one once it has ended."""
    followed = Followed(previous.run_dir, previous.gameday_dir)
    try:
        active = active_run(runs_dir)
    except NoActiveRun:
        active = None
    if active is not None:
        if is_gameday_dir(active):
            followed.gameday_dir = active
        else:
            followed.run_dir = active
    for runner in list_runners(runs_dir):
        if runner.kind == "play" and runner.run_dir and runner.alive:
            followed.gameday_dir = Path(runner.run_dir)
    return followed


@dataclass
class RunCursor:
    """One page's position in the followed folders."""

    runs_dir: Path
    followed: Followed = field(default_factory=Followed)
    _timeline: JsonlTail | None = None
    _stream: JsonlTail | None = None
    _gameday_timeline: JsonlTail | None = None
    _signatures: dict[str, tuple[int, int] | None] = field(default_factory=dict)

    def _run_files(self) -> dict[str, Path]:
        files: dict[str, Path] = {}
        if self.followed.run_dir is not None:
            files["ledger"] = self.followed.run_dir / "ledger.jsonl"
            files["summary"] = self.followed.run_dir / "summary.json"
            files["report"] = self.followed.run_dir / "report.html"
        if self.followed.gameday_dir is not None:
            files["gameday"] = self.followed.gameday_dir / "gameday.json"
            files["gameday_report"] = self.followed.gameday_dir / "report.html"
        return files

    def _changed(self) -> set[str]:
        changed = set()
        for name, path in self._run_files().items():
            signature = _signature(path)
            if self._signatures.get(name) != signature:
                self._signatures[name] = signature
                changed.add(name)
        return changed

    def _part(self, name: str) -> Any:
        run_dir, gameday_dir = self.followed.run_dir, self.followed.gameday_dir
        if name == "ledger" and run_dir is not None:
            return _faults(run_dir / "ledger.jsonl")
        if name == "summary" and run_dir is not None:
            return _read_json(run_dir / "summary.json")
        if name == "report" and run_dir is not None:
            return (run_dir / "report.html").is_file()
        if name == "gameday" and gameday_dir is not None:
            return _read_json(gameday_dir / "gameday.json")
        if name == "gameday_report" and gameday_dir is not None:
            return (gameday_dir / "report.html").is_file()
        return None

    def snapshot(self) -> dict[str, Any]:
        """Everything about the followed folders, and the cursor placed at their ends."""
        self.followed = locate(self.runs_dir, self.followed)
        run_dir, gameday_dir = self.followed.run_dir, self.followed.gameday_dir
        self._signatures = {}
        self._changed()
        self._timeline = JsonlTail(run_dir / "timeline.jsonl") if run_dir else None
        self._stream = JsonlTail(run_dir / "load" / "stream.jsonl") if run_dir else None
        self._gameday_timeline = JsonlTail(gameday_dir / "timeline.jsonl") if gameday_dir else None
        return {
            "run": run_dir.name if run_dir else None,
            "gameday": gameday_dir.name if gameday_dir else None,
            "experiment": _experiment_info(run_dir) if run_dir else None,
            "events": self._timeline.read() if self._timeline else [],
            "gameday_events": self._gameday_timeline.read() if self._gameday_timeline else [],
            "seconds": [_second(row) for row in (self._stream.read() if self._stream else [])][
                -MAX_SECONDS:
            ],
            "faults": self._part("ledger") or [],
            "summary": self._part("summary"),
            "report": bool(self._part("report")),
            "gameday_state": self._part("gameday"),
            "gameday_report": bool(self._part("gameday_report")),
        }

    def changes(self) -> dict[str, Any] | None:
        """What was appended or changed since the last call: None when nothing did, a
        full snapshot (with `"reset": True`) when another run is now followed."""
        followed = locate(self.runs_dir, self.followed)
        if followed != self.followed:
            self.followed = followed
            return {"reset": True, **self.snapshot()}
        delta: dict[str, Any] = {}
        events = self._timeline.read() if self._timeline else []
        if events:
            delta["events"] = events
        gameday_events = self._gameday_timeline.read() if self._gameday_timeline else []
        if gameday_events:
            delta["gameday_events"] = gameday_events
        seconds = self._stream.read() if self._stream else []
        if seconds:
            delta["seconds"] = [_second(row) for row in seconds]
        for name in self._changed():
            key = {"ledger": "faults", "gameday": "gameday_state"}.get(name, name)
            delta[key] = self._part(name)
        return delta or None


def report_path(runs_dir: Path, folder: str) -> Path | None:
    """The report.html of a run or game-day folder directly under `runs_dir` (a name only:
    no path from a request reaches outside the runs folder)."""
    if os.sep in folder or folder in ("", ".", ".."):
        return None
    path = Path(runs_dir) / folder / "report.html"
    return path if path.is_file() else None
