"""Turn raw samples into `stream.jsonl`: one line per second, aggregate and per endpoint."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from chaos.load.samples import Sample
from chaos.load.statistics import SecondStats, request_stats

STREAM_FILE = "stream.jsonl"


def second_stats(second: int, samples: list[Sample]) -> SecondStats:
    by_endpoint: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_endpoint[sample.endpoint].append(sample)
    total = request_stats([s.latency_ms for s in samples], (s.kind for s in samples), 1.0)
    endpoints = {
        name: request_stats([s.latency_ms for s in group], (s.kind for s in group), 1.0)
        for name, group in sorted(by_endpoint.items())
    }
    return SecondStats(ts=second, endpoints=endpoints, **total.model_dump())


class StreamWriter:
    """Bins samples by the second they completed in and appends finished seconds to the stream.

    Every second from the first one written to the last is written, including
    seconds without any completed request (a stalled target shows as zeros).
    """

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / STREAM_FILE
        self._bins: dict[int, list[Sample]] = defaultdict(list)
        self._next_second: int | None = None
        self.late_samples = 0
        self.latest: SecondStats | None = None

    def start_at(self, ts: float) -> None:
        """Write lines from the second containing `ts` on (earlier bins are kept too)."""
        if self._next_second is None:
            earliest = min(self._bins, default=math.floor(ts))
            self._next_second = min(math.floor(ts), earliest)

    def add(self, samples: Iterable[Sample]) -> None:
        for sample in samples:
            second = math.floor(sample.end_ts)
            if self._next_second is not None and second < self._next_second:
                self.late_samples += 1  # still in the raw files, so windows count it
                continue
            self._bins[second].append(sample)

    def write_until(self, second_exclusive: int) -> list[SecondStats]:
        """Write every second before `second_exclusive` that was not written yet."""
        if self._next_second is None:
            return []
        written = []
        with self.path.open("a", encoding="utf-8") as stream:
            while self._next_second < second_exclusive:
                stats = second_stats(self._next_second, self._bins.pop(self._next_second, []))
                stream.write(stats.model_dump_json() + "\n")
                written.append(stats)
                self._next_second += 1
        if written:
            self.latest = written[-1]
        return written

    def write_all(self, until_ts: float) -> list[SecondStats]:
        """Flush: every second up to the one containing `until_ts` and any later bin."""
        if self._next_second is None:
            return []
        last = max([math.floor(until_ts), *self._bins])
        return self.write_until(last + 1)
