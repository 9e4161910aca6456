"""The hold an emergency stop leaves behind: while `<runs_dir>/.emergency-stop` is in
force, no `gameday run`, `play`, `monkey` or `demo` may start under that runs folder.

The marker holds `{"since", "until", "pid"}`; `until` is null for a hold that lasts until
`gameday stop --clear`. A hold whose `until` has passed is over. A marker that cannot be
read still holds: after an emergency stop, refusing by mistake is the safe side.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

STOP_FILE = ".emergency-stop"


class EmergencyStopActive(Exception):
    """An emergency stop holds under this runs folder: nothing new may start."""


class HoldNotPlaced(Exception):
    """The hold could not be written, so new runs are not refused."""


@dataclass(frozen=True)
class StopHold:
    path: Path
    since: float | None
    until: float | None
    pid: int | None

    @property
    def expired(self) -> bool:
        return self.until is not None and self.until <= time.time()

    def describe(self) -> str:
        since = f" since {_clock(self.since)}" if self.since is not None else ""
        until = (
            f" until {_clock(self.until)}"
            if self.until is not None
            else " until `gameday stop --clear`"
        )
        return f"an emergency stop holds{since}{until} ({self.path})"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def hold_path(runs_dir: Path) -> Path:
    return Path(runs_dir) / STOP_FILE


def place_hold(runs_dir: Path, until: float | None) -> StopHold:
    """Write the hold (replacing an older one); `until` None holds until cleared."""
    path = hold_path(runs_dir)
    hold = StopHold(path=path, since=time.time(), until=until, pid=os.getpid())
    partial = path.with_name(f"{STOP_FILE}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(
            json.dumps({"since": hold.since, "until": hold.until, "pid": hold.pid}) + "\n",
            encoding="utf-8",
        )
        partial.replace(path)
    except OSError as exc:
        raise HoldNotPlaced(f"cannot write {path}: {exc.strerror or exc}") from exc
    return hold


def clear_hold(runs_dir: Path) -> StopHold | None:
    """Lift the hold; returns the hold that was in force, None when there was none."""
    hold = current_hold(runs_dir)
    hold_path(runs_dir).unlink(missing_ok=True)
    return hold


def current_hold(runs_dir: Path) -> StopHold | None:
    """The hold in force under `runs_dir`, None when there is none (or it expired)."""
    path = hold_path(runs_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        until = data.get("until")
        hold = StopHold(
            path=path,
            since=float(data["since"]),
            until=None if until is None else float(until),
            pid=int(data["pid"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return StopHold(path=path, since=None, until=None, pid=None)
    return None if hold.expired else hold


def refuse_if_stopped(runs_dir: Path) -> None:
    """Raise `EmergencyStopActive` while a hold is in force under `runs_dir`."""
    hold = current_hold(runs_dir)
    if hold is not None:
        raise EmergencyStopActive(
            f"not started: {hold.describe()}. Clear it with "
            f"`gameday stop --clear --runs-dir {Path(runs_dir)}` once the game day may go on."
        )
