"""Observers' notes, stamped into the active run's `timeline.jsonl` as `note` events."""

from __future__ import annotations

import getpass
import json
import os
import time
from pathlib import Path
from typing import Any

from chaos.gameday.active import active_run
from chaos.gameday.errors import GamedayError

TIMELINE_FILE = "timeline.jsonl"
MAX_NOTE_CHARS = 2000


def default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def append_note(
    run_dir: Path, text: str, author: str = "", ts: float | None = None
) -> dict[str, Any]:
    """Append one note event to `run_dir`'s timeline and return it."""
    text = " ".join(text.split())
    if not text:
        raise GamedayError("a note needs some text")
    if len(text) > MAX_NOTE_CHARS:
        raise GamedayError(f"a note is at most {MAX_NOTE_CHARS} characters, not {len(text)}")
    event = {
        "ts": round(time.time() if ts is None else ts, 3),
        "kind": "note",
        "text": text,
        "author": author,
    }
    return append_timeline_event(run_dir, event)


def append_timeline_event(run_dir: Path, event: dict[str, Any]) -> dict[str, Any]:
    """Append `event` as one line of `run_dir`'s timeline and return it."""
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8")
    # One write(2) on an O_APPEND descriptor: the engine appends to the same file from
    # another process, and whole lines never interleave.
    fd = os.open(run_dir / TIMELINE_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return event


def stamp_note(runs_dir: Path, text: str, author: str | None = None) -> tuple[Path, dict[str, Any]]:
    """Note `text` on the active run under `runs_dir`; raises `NoActiveRun`."""
    run_dir = active_run(runs_dir)
    event = append_note(run_dir, text, default_author() if author is None else author)
    return run_dir, event
