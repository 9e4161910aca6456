"""Answer "what were the error rate, p95 and RPS between t1 and t2" from the raw samples."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from chaos.load.samples import JsonLinesTail, is_sample_row, sample_files
from chaos.load.statistics import SecondStats, WindowStats, stats_from_counts
from chaos.load.stream import STREAM_FILE

# Samples reach their file up to ~0.2 s after completing (the Locust side buffers),
# so the trailing window ends this far in the past to not miss requests in flight.
TRAILING_LAG_S = 1.0
_SUCCESS = -1
# Parsed samples of this many load folders stay in memory, shared by all readers.
_CACHED_FOLDERS = 4


class _SampleStore:
    """Every raw sample of one load folder as columns, extended incrementally."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._tails: dict[Path, JsonLinesTail] = {}
        self.endpoint_codes: dict[str, int] = {}
        self._kind_codes: dict[str | None, int] = {None: _SUCCESS}
        self.kind_names: list[str] = []
        self.ts = np.empty(0)
        self.latency = np.empty(0)
        self.endpoint = np.empty(0, dtype=np.int32)
        self.kind = np.empty(0, dtype=np.int32)

    def refresh(self) -> None:
        if any(tail.replaced() for tail in self._tails.values()):
            self._reset()  # a new run reuses the folder
        rows: list[list] = []
        for path in sample_files(self.output_dir):
            tail = self._tails.setdefault(path, JsonLinesTail(path))
            rows.extend(row for row in tail.read_new() if is_sample_row(row))
        if not rows:
            return
        n = len(rows)
        codes = self.endpoint_codes
        self.ts = np.concatenate([self.ts, np.fromiter((r[0] for r in rows), np.float64, n)])
        self.latency = np.concatenate(
            [self.latency, np.fromiter((r[2] for r in rows), np.float64, n)]
        )
        self.endpoint = np.concatenate(
            [
                self.endpoint,
                np.fromiter((codes.setdefault(r[1], len(codes)) for r in rows), np.int32, n),
            ]
        )
        self.kind = np.concatenate(
            [self.kind, np.fromiter((self._kind_code(r[3]) for r in rows), np.int32, n)]
        )

    def _kind_code(self, kind: str | None) -> int:
        code = self._kind_codes.get(kind)
        if code is None:
            code = self._kind_codes[kind] = len(self.kind_names)
            self.kind_names.append(str(kind))
        return code


_stores: OrderedDict[Path, _SampleStore] = OrderedDict()
_stores_lock = threading.Lock()


def _store_for(output_dir: Path) -> _SampleStore:
    key = output_dir.resolve()
    with _stores_lock:
        store = _stores.pop(key, None) or _SampleStore(key)
        _stores[key] = store
        while len(_stores) > _CACHED_FOLDERS:
            _stores.popitem(last=False)
        return store


class StreamReader:
    """Reads a load output folder, live or finished.

    Windows are [t1, t2) in unix seconds over each request's completion time and
    are computed from every raw sample in them (nearest-rank percentiles), so a
    window may start and end anywhere, e.g. exactly at a fault's start and end.
    Parsed samples are shared by all readers of a folder in this process and
    extended with what was appended since, so creating a reader per probe is cheap.
    """

    def __init__(self, output_dir: Path | str) -> None:
        self.output_dir = Path(output_dir)
        self._store = _store_for(self.output_dir)

    def window(
        self,
        t1: float,
        t2: float,
        endpoint: str | None = None,
        started_from: float | None = None,
    ) -> WindowStats:
        """Requests that completed in [t1, t2), all endpoints or one ("GET /products");
        with `started_from`, only those that also started (completion - latency) then or
        later."""
        if t2 <= t1:
            raise ValueError(f"window end {t2} must be after its start {t1}")
        store = self._store
        with store.lock:
            store.refresh()
            mask = (store.ts >= t1) & (store.ts < t2)
            if started_from is not None:
                mask &= store.ts - store.latency / 1000.0 >= started_from
            if endpoint is not None:
                mask &= store.endpoint == store.endpoint_codes.get(endpoint, -2)
            latencies = store.latency[mask]
            codes, counts = np.unique(store.kind[mask], return_counts=True)
            failures_by_kind = {
                store.kind_names[code]: int(count)
                for code, count in zip(codes, counts, strict=True)
                if code != _SUCCESS
            }
        stats = stats_from_counts(latencies, failures_by_kind, t2 - t1)
        return WindowStats(
            seconds=t2 - t1, start=t1, end=t2, endpoint=endpoint, **stats.model_dump()
        )

    def trailing(self, seconds: float, endpoint: str | None = None) -> WindowStats:
        """The last `seconds` seconds, ending TRAILING_LAG_S ago."""
        end = time.time() - TRAILING_LAG_S
        return self.window(end - seconds, end, endpoint=endpoint)

    def endpoints(self) -> list[str]:
        with self._store.lock:
            self._store.refresh()
            return sorted(self._store.endpoint_codes)

    def seconds(self) -> list[SecondStats]:
        """The per-second lines of `stream.jsonl` written so far."""
        path = self.output_dir / STREAM_FILE
        if not path.exists():
            return []
        parsed = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                parsed.append(SecondStats.model_validate(json.loads(line)))
            except ValueError:
                continue  # the last line may still be being written
        return parsed
