"""Who is running under a runs folder: one small file per runner, so `gameday stop` finds
every `gameday run`, `play` and `monkey` at once.

The single `.active` marker names one run for `gameday note`; concurrent runs need one
entry each. A runner writes `<runs_dir>/.runner-<pid>-<n>.json` (`{"pid", "create_time",
"kind", "run_dir", "ledger", "since"}`) when it starts and removes it when it ends. Entries
are files, not a folder, so code that lists a runs folder's run folders never sees them.
An entry whose process is gone (SIGKILL) or whose pid now belongs to another process
(its start time differs) is dead: it blocks nothing, and `gameday stop` removes it.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import psutil

ENTRY_PREFIX = ".runner-"
ENTRY_SUFFIX = ".json"
RunnerKind = Literal["run", "play", "monkey"]
# A pid's start time as psutil reports it, compared with this slack.
_CREATE_TIME_SLACK_S = 0.05
_sequence = itertools.count(1)


class RegistryError(Exception):
    """A registry entry could not be written."""


@dataclass(frozen=True)
class RunnerEntry:
    """One registered runner."""

    path: Path
    pid: int
    create_time: float
    kind: str
    run_dir: str | None
    ledger: str | None
    since: float

    @property
    def alive(self) -> bool:
        """The registered process still runs (not a zombie, and not a reused pid)."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.create_time) > _CREATE_TIME_SLACK_S:
                return False
            return process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


def _write(entry: RunnerEntry) -> None:
    payload = {
        "pid": entry.pid,
        "create_time": entry.create_time,
        "kind": entry.kind,
        "run_dir": entry.run_dir,
        "ledger": entry.ledger,
        "since": entry.since,
    }
    partial = entry.path.with_name(entry.path.name + ".tmp")
    try:
        entry.path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so `gameday stop` never reads half an entry.
        partial.write_text(json.dumps(payload) + "\n", encoding="utf-8")
        partial.replace(entry.path)
    except OSError as exc:
        raise RegistryError(
            f"cannot register this runner in {entry.path.parent}: {exc.strerror or exc}"
        ) from exc


def register_runner(
    runs_dir: Path,
    kind: RunnerKind,
    run_dir: Path | None = None,
    ledger: Path | None = None,
) -> RunnerEntry:
    """Register the calling process as a runner of `runs_dir`; raises `RegistryError`."""
    pid = os.getpid()
    entry = RunnerEntry(
        path=Path(runs_dir) / f"{ENTRY_PREFIX}{pid}-{next(_sequence)}{ENTRY_SUFFIX}",
        pid=pid,
        create_time=psutil.Process(pid).create_time(),
        kind=kind,
        run_dir=str(Path(run_dir).resolve()) if run_dir is not None else None,
        ledger=str(Path(ledger).resolve()) if ledger is not None else None,
        since=time.time(),
    )
    _write(entry)
    return entry


def update_runner(entry: RunnerEntry, run_dir: Path, ledger: Path | None = None) -> RunnerEntry:
    """Name the run folder (and ledger) a registered runner now works in."""
    updated = replace(
        entry,
        run_dir=str(Path(run_dir).resolve()),
        ledger=str(Path(ledger).resolve()) if ledger is not None else entry.ledger,
    )
    _write(updated)
    return updated


def unregister_runner(entry: RunnerEntry) -> None:
    entry.path.unlink(missing_ok=True)


@contextmanager
def registered_runner(
    runs_dir: Path, kind: RunnerKind, run_dir: Path | None = None, ledger: Path | None = None
) -> Iterator[RunnerEntry]:
    entry = register_runner(runs_dir, kind, run_dir, ledger)
    try:
        yield entry
    finally:
        unregister_runner(entry)


def list_runners(runs_dir: Path) -> list[RunnerEntry]:
    """Every registry entry under `runs_dir`, live or dead, oldest first. An entry that
    cannot be read (cut short, edited) is left out: it names no process to stop."""
    entries: list[RunnerEntry] = []
    for path in Path(runs_dir).glob(f"{ENTRY_PREFIX}*{ENTRY_SUFFIX}"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries.append(
                RunnerEntry(
                    path=path,
                    pid=int(data["pid"]),
                    create_time=float(data["create_time"]),
                    kind=str(data["kind"]),
                    run_dir=data.get("run_dir"),
                    ledger=data.get("ledger"),
                    since=float(data["since"]),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(entries, key=lambda entry: entry.since)
