import json
from pathlib import Path

from chaos.load.runner import complete_until
from chaos.load.samples import Sample
from chaos.load.stream import StreamWriter

T0 = 1_800_000_000


def lines(output_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (output_dir / "stream.jsonl").read_text().splitlines()]


def test_one_line_per_second_including_seconds_without_requests(tmp_path: Path) -> None:
    writer = StreamWriter(tmp_path)
    writer.start_at(T0 + 0.4)
    writer.add(
        [
            Sample(T0 + 0.5, "GET /a", 10.0, None),
            Sample(T0 + 0.6, "GET /b", 30.0, "http_500"),
            Sample(T0 + 2.1, "GET /a", 20.0, None),
        ]
    )
    written = writer.write_until(T0 + 3)
    assert [s.ts for s in written] == [T0, T0 + 1, T0 + 2]
    first, empty, third = lines(tmp_path)
    assert first["requests"] == 2 and first["failures"] == 1
    assert first["failures_by_kind"] == {"http_500": 1}
    assert first["rps"] == 2.0 and first["error_rate"] == 0.5
    assert first["endpoints"]["GET /b"]["p50"] == 30.0
    assert first["endpoints"]["GET /a"]["failures"] == 0
    assert empty == {
        "ts": T0 + 1,
        "requests": 0,
        "failures": 0,
        "failures_by_kind": {},
        "rps": 0.0,
        "error_rate": 0.0,
        "p50": None,
        "p90": None,
        "p95": None,
        "p99": None,
        "max": None,
        "endpoints": {},
    }
    assert third["p50"] == 20.0


def test_samples_for_a_written_second_count_as_late(tmp_path: Path) -> None:
    writer = StreamWriter(tmp_path)
    writer.start_at(T0)
    writer.write_until(T0 + 2)
    writer.add([Sample(T0 + 1.5, "GET /a", 1.0, None)])
    assert writer.late_samples == 1
    assert writer.write_until(T0 + 2) == []


def test_write_all_flushes_the_partial_last_second(tmp_path: Path) -> None:
    writer = StreamWriter(tmp_path)
    writer.add([Sample(T0 + 0.2, "GET /a", 1.0, None), Sample(T0 + 3.9, "GET /a", 2.0, None)])
    writer.start_at(T0 + 1.0)  # an earlier sample pulls the start back to its second
    writer.write_all(until_ts=T0 + 2.5)
    assert [line["ts"] for line in lines(tmp_path)] == [T0, T0 + 1, T0 + 2, T0 + 3]
    assert sum(line["requests"] for line in lines(tmp_path)) == 2


def test_nothing_is_written_before_the_test_started(tmp_path: Path) -> None:
    writer = StreamWriter(tmp_path)
    writer.add([Sample(T0 + 0.2, "GET /a", 1.0, None)])
    assert writer.write_until(T0 + 5) == []
    assert not (tmp_path / "stream.jsonl").exists()


def test_a_second_is_complete_once_every_process_flushed_past_it() -> None:
    # Flushed 0.3 s after second T0+4 ended: written (less the 0.1 s margin), not T0+5.
    assert (
        complete_until(
            T0 + 5.3, {"master": T0 + 5.3, "worker-1": T0 + 5.25}, ["master", "worker-1"]
        )
        == T0 + 5
    )
    # A process that has not flushed past the end yet holds the second back...
    assert (
        complete_until(
            T0 + 5.3, {"master": T0 + 5.3, "worker-1": T0 + 5.05}, ["master", "worker-1"]
        )
        == T0 + 4
    )
    # ...and so does one that never said it flushed, until the grace has passed.
    assert complete_until(T0 + 5.3, {"master": T0 + 5.3}, ["master", "worker-1"]) == T0 + 3
    assert complete_until(T0 + 6.6, {"master": T0 + 5.3}, ["master", "worker-1"]) == T0 + 5
    assert complete_until(T0 + 5.3, {}, []) == T0 + 3
