"""Tiny providers for engine tests: a fault recorded in the run's ledger, and probes.

The "fault" is a marker file; its undo removes it. Tests assert that no marker is left.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from chaos.safety.ledger import find_ledger, run_dir_of

MODULE = __name__


def set_marker(path: str, ttl_s: float = 60.0, configuration: dict[str, Any] | None = None) -> dict:
    """Create `path` (the fault), intent written first."""
    ledger = find_ledger(configuration)
    entry = ledger.record_intent(
        "toy.marker",
        path,
        {"module": MODULE, "func": "clear_marker", "arguments": {"path": path}},
        expires_at=time.time() + ttl_s,
        run_dir=run_dir_of(configuration),
    )
    Path(path).write_text(str(os.getpid()))
    ledger.mark(entry, "applied")
    return {"ledger_id": entry.id, "target": path}


def clear_marker(path: str) -> bool:
    """Undo: remove the marker (idempotent)."""
    Path(path).unlink(missing_ok=True)
    return True


def marker_absent(path: str) -> bool:
    return not Path(path).exists()


def constant(value: int = 1) -> int:
    return value


def slow_constant(value: int = 1, delay_s: float = 0.0) -> int:
    time.sleep(delay_s)
    return value


def set_marker_slowly(
    path: str, delay_s: float = 30.0, configuration: dict[str, Any] | None = None
) -> dict:
    """Apply the fault, then keep the Python activity busy (where signals used to be lost)."""
    result = set_marker(path, configuration=configuration)
    time.sleep(delay_s)
    return result


def fail() -> None:
    raise RuntimeError("this fault cannot be applied")


def write_stream(
    error_rate: float, seconds: int = 5, configuration: dict[str, Any] | None = None
) -> int:
    """Append `seconds` consecutive load-stream lines ending now (a stand-in for Locust)."""
    import json

    load_dir = Path(configuration["gameday_run_dir"]) / "load"
    load_dir.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    with (load_dir / "stream.jsonl").open("a") as out:
        for ts in range(now - seconds + 1, now + 1):
            line = {
                "ts": ts,
                "requests": 100,
                "failures": int(100 * error_rate),
                "rps": 100.0,
                "error_rate": error_rate,
                "p95": 20.0,
            }
            out.write(json.dumps(line) + "\n")
    return seconds
