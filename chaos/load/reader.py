"""Answer "what were the error rate, p95 and RPS between t1 and t2" from the raw samples."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from chaos.load.samples import SampleTail, sample_files
from chaos.load.statistics import SecondStats, WindowStats, request_stats
from chaos.load.stream import STREAM_FILE

# Samples reach their file up to ~0.2 s after completing (the Locust side buffers),
# so the trailing window ends this far in the past to not miss requests in flight.
TRAILING_LAG_S = 1.0
_SUCCESS = -1


class StreamReader:
    """Reads a load output folder, live or finished.

    Windows are [t1, t2) in unix seconds over each request's completion time and
    are computed from every raw sample in them (nearest-rank percentiles), so a
    window may start and end anywhere, e.g. exactly at a fault's start and end.
    Appended samples are read incrementally, so polling one reader stays cheap.
    """

    def __init__(self, output_dir: Path | str) -> None:
        self.output_dir = Path(output_dir)
        self._tails: dict[Path, SampleTail] = {}
        self._endpoint_codes: dict[str, int] = {}
        self._kind_codes: dict[str, int] = {}
        self._kind_names: list[str] = []
        self._ts = np.empty(0)
        self._latency = np.empty(0)
        self._endpoint = np.empty(0, dtype=np.int32)
        self._kind = np.empty(0, dtype=np.int32)

    def window(self, t1: float, t2: float, endpoint: str | None = None) -> WindowStats:
        """Requests that completed in [t1, t2), all endpoints or one ("GET /products")."""
        if t2 <= t1:
            raise ValueError(f"window end {t2} must be after its start {t1}")
        self._refresh()
        mask = (self._ts >= t1) & (self._ts < t2)
        if endpoint is not None:
            code = self._endpoint_codes.get(endpoint, -2)
            mask &= self._endpoint == code
        kinds = [None if k == _SUCCESS else self._kind_names[k] for k in self._kind[mask]]
        stats = request_stats(self._latency[mask], kinds, t2 - t1)
        return WindowStats(
            seconds=t2 - t1, start=t1, end=t2, endpoint=endpoint, **stats.model_dump()
        )

    def trailing(self, seconds: float, endpoint: str | None = None) -> WindowStats:
        """The last `seconds` seconds, ending TRAILING_LAG_S ago."""
        end = time.time() - TRAILING_LAG_S
        return self.window(end - seconds, end, endpoint=endpoint)

    def endpoints(self) -> list[str]:
        self._refresh()
        return sorted(self._endpoint_codes)

    def seconds(self) -> list[SecondStats]:
        """The per-second lines of `stream.jsonl` written so far."""
        path = self.output_dir / STREAM_FILE
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        # The last line may still be being written.
        parsed = []
        for line in lines:
            try:
                parsed.append(SecondStats.model_validate(json.loads(line)))
            except ValueError:
                continue
        return parsed

    def _refresh(self) -> None:
        chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for path in sample_files(self.output_dir):
            tail = self._tails.setdefault(path, SampleTail(path))
            samples = tail.read_samples()
            if not samples:
                continue
            chunks.append(
                (
                    np.fromiter((s.end_ts for s in samples), np.float64, len(samples)),
                    np.fromiter((s.latency_ms for s in samples), np.float64, len(samples)),
                    np.fromiter(
                        (self._code(self._endpoint_codes, s.endpoint) for s in samples),
                        np.int32,
                        len(samples),
                    ),
                    np.fromiter((self._kind_code(s.kind) for s in samples), np.int32, len(samples)),
                )
            )
        if chunks:
            ts, latency, endpoint, kind = zip(*chunks, strict=True)
            self._ts = np.concatenate([self._ts, *ts])
            self._latency = np.concatenate([self._latency, *latency])
            self._endpoint = np.concatenate([self._endpoint, *endpoint])
            self._kind = np.concatenate([self._kind, *kind])

    @staticmethod
    def _code(codes: dict[str, int], name: str) -> int:
        return codes.setdefault(name, len(codes))

    def _kind_code(self, kind: str | None) -> int:
        if kind is None:
            return _SUCCESS
        code = self._kind_codes.get(kind)
        if code is None:
            code = self._kind_codes[kind] = len(self._kind_names)
            self._kind_names.append(str(kind))
        return code
