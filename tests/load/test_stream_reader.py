"""StreamReader on synthetic raw sample files."""

import json
import time
from pathlib import Path

import pytest

from chaos.load import StreamReader

T0 = 1_800_000_000.0


def write_samples(output_dir: Path, process: str, rows: list[list]) -> None:
    path = output_dir / "samples" / f"{process}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def test_window_is_half_open_and_aligned_to_given_timestamps(tmp_path: Path) -> None:
    write_samples(
        tmp_path,
        "local",
        [
            [T0 + 0.999, "GET /a", 10.0, None],  # before the window
            [T0 + 1.0, "GET /a", 20.0, None],  # first instant: in
            [T0 + 1.5, "GET /a", 30.0, "http_500"],
            [T0 + 2.25, "GET /b", 40.0, "timeout"],
            [T0 + 2.5, "GET /a", 50.0, None],  # end instant: out
        ],
    )
    stats = StreamReader(tmp_path).window(T0 + 1.0, T0 + 2.5)
    assert stats.requests == 3
    assert stats.failures == 2
    assert stats.failures_by_kind == {"http_500": 1, "timeout": 1}
    assert stats.error_rate == pytest.approx(2 / 3, abs=1e-5)
    assert stats.seconds == pytest.approx(1.5)
    assert stats.rps == pytest.approx(2.0)
    assert stats.p50 == 30.0
    assert stats.max == 40.0


def test_window_of_one_endpoint(tmp_path: Path) -> None:
    write_samples(
        tmp_path,
        "local",
        [[T0 + 0.1, "GET /a", 1.0, None], [T0 + 0.2, "GET /b", 500.0, "http_503"]],
    )
    reader = StreamReader(tmp_path)
    only_b = reader.window(T0, T0 + 1, endpoint="GET /b")
    assert (only_b.requests, only_b.failures, only_b.p99) == (1, 1, 500.0)
    assert reader.window(T0, T0 + 1, endpoint="GET /nothing").requests == 0
    assert reader.endpoints() == ["GET /a", "GET /b"]


def test_percentiles_come_from_raw_samples_not_from_per_second_values(tmp_path: Path) -> None:
    # Second 0: 99 fast requests; second 1: one slow request. The p50 of the two
    # per-second p50s would be 505 ms; over the raw samples it is 10 ms.
    rows = [[T0 + i / 100, "GET /a", 10.0, None] for i in range(99)]
    rows.append([T0 + 1.5, "GET /a", 1000.0, None])
    write_samples(tmp_path, "local", rows)
    stats = StreamReader(tmp_path).window(T0, T0 + 2)
    assert stats.p50 == 10.0
    assert stats.p99 == 10.0
    assert stats.max == 1000.0


def test_samples_of_every_worker_are_combined(tmp_path: Path) -> None:
    write_samples(tmp_path, "worker-1", [[T0 + 0.1, "GET /a", 5.0, None]] * 3)
    write_samples(tmp_path, "worker-2", [[T0 + 0.2, "GET /a", 7.0, "connection_closed"]] * 2)
    stats = StreamReader(tmp_path).window(T0, T0 + 1)
    assert stats.requests == 5
    assert stats.failures_by_kind == {"connection_closed": 2}


def test_reader_picks_up_appended_samples_and_waits_for_whole_lines(tmp_path: Path) -> None:
    write_samples(tmp_path, "local", [[T0 + 0.1, "GET /a", 5.0, None]])
    reader = StreamReader(tmp_path)
    assert reader.window(T0, T0 + 10).requests == 1
    path = tmp_path / "samples" / "local.jsonl"
    with path.open("a", encoding="utf-8") as f:
        f.write('[1800000002.0, "GET /a", 6.0, nu')  # the writer is mid-line
    assert reader.window(T0, T0 + 10).requests == 1
    with path.open("a", encoding="utf-8") as f:
        f.write("ll]\n")
    write_samples(tmp_path, "worker-9", [[T0 + 3, "GET /a", 7.0, None]])
    assert reader.window(T0, T0 + 10).requests == 3


def test_trailing_window_ends_in_the_recent_past(tmp_path: Path) -> None:
    now = time.time()
    write_samples(
        tmp_path,
        "local",
        [
            [now - 30, "GET /a", 1.0, None],  # too old
            [now - 5, "GET /a", 2.0, None],
            [now - 2, "GET /a", 3.0, "http_500"],
        ],
    )
    stats = StreamReader(tmp_path).trailing(10)
    assert stats.requests == 2
    assert stats.failures == 1
    assert stats.seconds == pytest.approx(10)


def test_empty_or_missing_folder_gives_zero_requests(tmp_path: Path) -> None:
    stats = StreamReader(tmp_path / "nothing-yet").window(T0, T0 + 5)
    assert stats.requests == 0 and stats.p95 is None


def test_window_must_not_be_empty(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="after its start"):
        StreamReader(tmp_path).window(T0, T0)
