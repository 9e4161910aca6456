"""The active-run marker: `<runs_dir>/.active` names the run folder (or game-day folder)
in progress, so `gameday note` from another terminal knows whose timeline to stamp.

The marker holds `{"run_dir", "pid", "since"}`. A marker whose process is gone is stale
(the run was killed) and counts as no active run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psutil

from chaos.gameday.errors import NoActiveRun

ACTIVE_FILE = ".active"


def marker_path(runs_dir: Path) -> Path:
    return Path(runs_dir) / ACTIVE_FILE


def mark_active(run_dir: Path) -> Path:
    """Make `run_dir` the active run of the runs folder it sits in."""
    run_dir = Path(run_dir).resolve()
    marker = marker_path(run_dir.parent)
    payload = {"run_dir": str(run_dir), "pid": os.getpid(), "since": time.time()}
    # Write then rename, so a reader never sees half a marker.
    partial = marker.with_name(f"{ACTIVE_FILE}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(payload) + "\n", encoding="utf-8")
    partial.replace(marker)
    return marker


def clear_active(run_dir: Path) -> None:
    """Remove the marker if it still names `run_dir` (a newer run keeps its own)."""
    run_dir = Path(run_dir).resolve()
    marker = marker_path(run_dir.parent)
    try:
        if Path(json.loads(marker.read_text(encoding="utf-8"))["run_dir"]) == run_dir:
            marker.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        return


def active_run(runs_dir: Path) -> Path:
    """The run folder in progress under `runs_dir`; raises `NoActiveRun`."""
    marker = marker_path(runs_dir)
    try:
        payload = json.loads(marker.read_text(encoding="utf-8"))
        run_dir, pid = Path(payload["run_dir"]), int(payload["pid"])
    except FileNotFoundError:
        raise NoActiveRun(
            f"no run in progress under {runs_dir} (no {marker.name} marker); start one with "
            "`gameday run` or `gameday play`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NoActiveRun(f"{marker}: not a valid active-run marker ({exc})") from exc
    if not psutil.pid_exists(pid) or not run_dir.is_dir():
        raise NoActiveRun(
            f"the run named by {marker} ({run_dir.name}) is no longer in progress "
            f"(process {pid} is gone)"
        )
    return run_dir
