"""The runs folder and each new run folder in it, checked before anything starts.

A run that cannot write its folder would inject faults it cannot record, so the runs
folder must be creatable, writable and have room before a target or load is touched.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.engine.target import CouldNotRun
from chaos.engine.verdict import Verdict

# A run folder takes a few MB (the load's raw samples, reports with charts); less free
# space than this means the run would fail part-way.
MIN_FREE_BYTES = 16 * 1024 * 1024
# Written and removed again to prove that files can grow in the folder, not only be created.
PROBE_BYTES = 64 * 1024


class RunsFolderUnusable(CouldNotRun):
    """The runs folder (or a run folder in it) cannot be created or written."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(
            f"the runs folder {path} cannot hold a run: {why}; nothing was started "
            "(choose another folder with --runs-dir, or fix this one)"
        )
        self.path = path


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_runs_dir(runs_dir: Path) -> None:
    """Create `runs_dir` if needed and prove a run can write there; raise
    `RunsFolderUnusable` naming the folder and the reason."""
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunsFolderUnusable(runs_dir, "it is a file, not a folder")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunsFolderUnusable(runs_dir, f"it cannot be created ({_why(exc)})") from exc
    try:
        fd, probe = tempfile.mkstemp(prefix=".gameday-write-check-", dir=runs_dir)
    except OSError as exc:
        raise RunsFolderUnusable(runs_dir, f"no file can be created in it ({_why(exc)})") from exc
    try:
        written = os.write(fd, b"\0" * PROBE_BYTES)
        if written != PROBE_BYTES:
            raise OSError(28, "the disk is full")
        os.fsync(fd)
    except OSError as exc:
        raise RunsFolderUnusable(runs_dir, f"files in it cannot grow ({_why(exc)})") from exc
    finally:
        os.close(fd)
        Path(probe).unlink(missing_ok=True)
    free = shutil.disk_usage(runs_dir).free
    if free < MIN_FREE_BYTES:
        raise RunsFolderUnusable(
            runs_dir,
            f"its disk has {free // 1024} KiB free, a run needs {MIN_FREE_BYTES // 2**20} MiB",
        )


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48] or "experiment"


def create_run_dir(runs_dir: Path, title: str) -> Path:
    """A new folder `runs_dir/<UTC time>-<slug>[-N]`; raises `RunsFolderUnusable`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(runs_dir) / f"{stamp}-{slugify(title)}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise RunsFolderUnusable(
            Path(runs_dir), f"the run folder {run_dir.name} cannot be created ({_why(exc)})"
        ) from exc
    return run_dir


class RunFolderWriteFailed(CouldNotRun):
    """A file of a run folder could not be written (a full disk, a folder gone)."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"cannot write {path}: {why}")
        self.path = path


def write_run_file(run_dir: Path, name: str, text: str) -> Path:
    """Write `run_dir/name`; raise `RunFolderWriteFailed` naming the file."""
    path = Path(run_dir) / name
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RunFolderWriteFailed(path, _why(exc)) from exc
    return path


def run_summary(
    verdict: Verdict, reason: str, title: str, started_at: float, target: str
) -> dict[str, Any]:
    """The content of a run's `summary.json`, ended now."""
    return {
        "verdict": verdict.verdict,
        "exit_code": verdict.exit_code,
        "title": title,
        "slug": slugify(title),
        "started_at": datetime.fromtimestamp(started_at, UTC).isoformat(),
        "ended_at": datetime.now(UTC).isoformat(),
        "target": target,
        "reason": reason,
    }
