"""Raw sample files written by the Locust side, and reading what was appended to them.

Layout under a load output folder: `samples/<process>.jsonl` holds one line per
request, `[end_ts, "METHOD name", latency_ms, error_kind_or_null]`, and
`status/<process>.jsonl` holds Locust lifecycle events. `<process>` is `local`,
`master` or `worker-N`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

SAMPLES_DIR = "samples"
STATUS_DIR = "status"


class Sample(NamedTuple):
    end_ts: float
    endpoint: str
    latency_ms: float
    kind: str | None


def samples_path(output_dir: Path, process: str) -> Path:
    return output_dir / SAMPLES_DIR / f"{process}.jsonl"


def status_path(output_dir: Path, process: str) -> Path:
    return output_dir / STATUS_DIR / f"{process}.jsonl"


def sample_files(output_dir: Path) -> list[Path]:
    return sorted((output_dir / SAMPLES_DIR).glob("*.jsonl"))


class JsonLinesTail:
    """Parses the complete JSON lines appended to one file since the previous call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._inode: int | None = None
        self._partial = b""
        self.malformed = 0

    def replaced(self) -> bool:
        """True if the file was deleted, recreated or truncated since it was last read."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return self._offset > 0
        return self._inode not in (None, stat.st_ino) or stat.st_size < self._offset

    def read_new(self) -> list[Any]:
        try:
            with self.path.open("rb") as f:
                self._inode = os.fstat(f.fileno()).st_ino
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        # The writer may be mid-line; keep the unfinished tail for the next call.
        self._partial = lines.pop()
        lines = [line for line in lines if line.strip()]
        try:
            # One parse of the whole batch is several times faster than one per line.
            return json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            pass
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except ValueError:
                self.malformed += 1
        return parsed


def is_sample_row(row: Any) -> bool:
    return isinstance(row, list) and len(row) == 4


class SampleTail(JsonLinesTail):
    def read_samples(self) -> list[Sample]:
        samples = []
        for row in self.read_new():
            try:
                end_ts, endpoint, latency_ms, kind = row
                samples.append(Sample(float(end_ts), str(endpoint), float(latency_ms), kind))
            except (TypeError, ValueError):
                self.malformed += 1
        return samples
