"""Load probes over a synthetic load folder written in the load runner's raw-sample format."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from chaos.probes.errors import InvalidProbeArgument, NoData, ProbeTargetUnknown
from chaos.probes.load import current_fault_start, error_rate, latency_percentile, throughput
from chaos.safety.ledger import Ledger


def write_samples(run_dir: Path, rows: list[list[object]]) -> None:
    """`load/samples/local.jsonl`: `[end_ts, "METHOD name", latency_ms, error_kind|null]`."""
    samples = run_dir / "load" / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    with (samples / "local.jsonl").open("a") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def steady_traffic(start: float, end: float, *, checkout_latency: float) -> list[list[object]]:
    """10 products + 10 checkouts per second; every 5th checkout fails with a 503."""
    rows: list[list[object]] = []
    t, n = start, 0
    while t < end:
        rows.append([t, "GET /products", 10.0, None])
        rows.append([t, "POST /checkout", checkout_latency, "HTTP 503" if n % 5 == 0 else None])
        t, n = t + 0.1, n + 1
    return rows


def config(run_dir: Path) -> dict[str, str]:
    return {"gameday_run_dir": str(run_dir), "gameday_ledger": str(run_dir / "ledger.jsonl")}


def test_trailing_window_error_rate_latency_and_throughput(tmp_path: Path) -> None:
    now = time.time()
    write_samples(tmp_path, steady_traffic(now - 30, now, checkout_latency=100.0))
    cfg = config(tmp_path)
    assert error_rate(window_s=10, configuration=cfg) == pytest.approx(0.1, abs=0.02)
    assert error_rate(window_s=10, endpoint="POST /checkout", configuration=cfg) == (
        pytest.approx(0.2, abs=0.03)
    )
    assert error_rate(window_s=10, endpoint="GET /products", configuration=cfg) == 0.0
    assert latency_percentile(p=99, window_s=10, configuration=cfg) == 100.0
    assert latency_percentile(p=50, window_s=10, endpoint="GET /products", configuration=cfg) == 10
    assert throughput(window_s=10, configuration=cfg) == pytest.approx(20.0, abs=1.0)
    assert throughput(window_s=10, endpoint="POST /checkout", configuration=cfg) == (
        pytest.approx(10.0, abs=0.6)
    )


def test_fault_aligned_window_starts_at_the_current_fault(tmp_path: Path) -> None:
    now = time.time()
    fault_start = now - 8
    write_samples(tmp_path, steady_traffic(now - 30, fault_start, checkout_latency=50.0))
    write_samples(tmp_path, steady_traffic(fault_start, now, checkout_latency=900.0))
    timeline = tmp_path / "timeline.jsonl"
    events = [
        {"ts": now - 25, "kind": "fault", "id": "old", "name": "x", "edge": "start"},
        {"ts": now - 20, "kind": "fault", "id": "old", "name": "x", "edge": "end"},
        {"ts": fault_start, "kind": "fault", "id": "f1", "name": "latency", "edge": "start"},
    ]
    timeline.write_text("".join(json.dumps(e) + "\n" for e in events))
    cfg = config(tmp_path)
    assert current_fault_start(cfg) == pytest.approx(fault_start)
    during = latency_percentile(p=50, since="fault", endpoint="POST /checkout", configuration=cfg)
    trailing = latency_percentile(
        p=50, window_s=25, since="window", endpoint="POST /checkout", configuration=cfg
    )
    assert during == 900.0
    assert trailing == 50.0  # most of the trailing 25 s were before the fault
    # Once the fault ends, "fault" falls back to the trailing window.
    with timeline.open("a") as handle:
        handle.write(json.dumps({"ts": now, "kind": "fault", "id": "f1", "edge": "end"}) + "\n")
    assert current_fault_start(cfg) is None
    assert (
        latency_percentile(
            p=50, window_s=25, since="fault", endpoint="POST /checkout", configuration=cfg
        )
        == 50.0
    )


def test_fault_start_falls_back_to_the_ledger(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert current_fault_start(cfg) is None
    ledger = Ledger(tmp_path / "ledger.jsonl")
    entry = ledger.record_intent("network.latency", "a->b", {"module": "m", "func": "f"})
    assert current_fault_start(cfg) is None  # an intent is not an applied fault yet
    applied = ledger.mark(entry, "applied")
    assert current_fault_start(cfg) == applied.ts
    ledger.mark(entry, "undone")
    assert current_fault_start(cfg) is None


def test_no_requests_is_no_data_but_zero_throughput(tmp_path: Path) -> None:
    write_samples(tmp_path, [[time.time() - 100, "GET /products", 5.0, None]])
    cfg = config(tmp_path)
    with pytest.raises(NoData, match="is the load running"):
        error_rate(window_s=5, configuration=cfg)
    with pytest.raises(NoData):
        latency_percentile(window_s=5, configuration=cfg)
    assert throughput(window_s=5, configuration=cfg) == 0.0


def test_misuse_is_reported_clearly(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with pytest.raises(InvalidProbeArgument, match=r"p must be one of \[50, 90, 95, 99, 100\]"):
        latency_percentile(p=97, configuration=cfg)
    with pytest.raises(InvalidProbeArgument, match="since must be"):
        error_rate(since="yesterday", configuration=cfg)  # type: ignore[arg-type]
    with pytest.raises(InvalidProbeArgument, match="window_s"):
        error_rate(window_s=0, configuration=cfg)
    with pytest.raises(ProbeTargetUnknown, match="gameday_run_dir"):
        error_rate(configuration={})


def _after_the_method(tmp_path: Path, fault_end: float, recovery: bool = True) -> None:
    events = [
        {"ts": fault_end - 8, "kind": "phase", "name": "method", "edge": "start"},
        {"ts": fault_end - 8, "kind": "fault", "id": "f1", "name": "latency", "edge": "start"},
        {"ts": fault_end, "kind": "fault", "id": "f1", "edge": "end", "status": "undone"},
        {"ts": fault_end + 0.01, "kind": "phase", "name": "method", "edge": "end"},
    ]
    if recovery:
        phase = {"kind": "phase", "name": "recovery"}
        events.append({**phase, "ts": fault_end + 0.02, "edge": "start"})
        # The steady state after comes right after the recovery window.
        events.append({**phase, "ts": time.time() - 0.05, "edge": "end"})
    (tmp_path / "timeline.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def test_after_the_method_only_requests_started_after_the_fault_count(tmp_path: Path) -> None:
    """The steady state after, 5 s after an 800 ms latency was lifted: neither the fault's
    own seconds nor requests that started under the fault and completed after it count."""
    now = time.time()
    fault_end = now - 5
    rows = [[t, "GET /products", 800.0, None] for t in _every(fault_end - 8, fault_end, 0.05)]
    # 20 users each had a request in flight when the fault was lifted: they complete
    # 0.6-1.2 s after its end (a retry after the fault's latency), started before it.
    rows += [[fault_end + 0.6 + 0.03 * i, "GET /products", 1300.0 + i, None] for i in range(20)]
    rows += [[t, "GET /products", 20.0, None] for t in _every(fault_end, now, 0.05)]
    write_samples(tmp_path, rows)
    _after_the_method(tmp_path, fault_end)
    cfg = config(tmp_path)
    assert latency_percentile(p=95, window_s=4, configuration=cfg) == 20.0
    assert latency_percentile(p=95, window_s=10, configuration=cfg) == 20.0
    assert latency_percentile(p=100, window_s=10, configuration=cfg) == 20.0
    assert error_rate(window_s=10, configuration=cfg) == 0.0


def test_right_after_the_faults_a_probe_waits_for_a_second_of_after(tmp_path: Path) -> None:
    now = time.time()
    fault_end = now - 0.2
    rows = [[t, "GET /products", 800.0, None] for t in _every(now - 9, fault_end, 0.1)]
    rows += [[t, "GET /products", 20.0, None] for t in _every(fault_end + 0.05, now + 2, 0.05)]
    write_samples(tmp_path, rows)
    _after_the_method(tmp_path, fault_end, recovery=False)
    assert latency_percentile(p=100, window_s=5, configuration=config(tmp_path)) == 20.0
    assert time.time() - fault_end >= 1.0


def test_under_light_load_a_probe_after_the_faults_waits_for_a_first_request(
    tmp_path: Path,
) -> None:
    """A short recovery and few users: the endpoint's first request after the faults comes
    2 s after their end. The probe fills its window up to `window_s` instead of failing."""
    now = time.time()
    fault_end = now - 0.2
    rows = [[t, "GET /products", 800.0, None] for t in _every(now - 9, fault_end, 0.1)]
    rows += [[fault_end + 2.0, "GET /products", 30.0, None]]
    write_samples(tmp_path, rows)
    _after_the_method(tmp_path, fault_end, recovery=False)
    assert latency_percentile(p=100, window_s=5, configuration=config(tmp_path)) == 30.0
    assert time.time() - fault_end >= 2.0


def test_after_the_faults_no_request_within_window_s_is_no_data(tmp_path: Path) -> None:
    now = time.time()
    fault_end = now - 0.2
    rows = [[t, "GET /products", 800.0, None] for t in _every(now - 9, fault_end, 0.1)]
    write_samples(tmp_path, rows)
    _after_the_method(tmp_path, fault_end, recovery=False)
    with pytest.raises(NoData):
        error_rate(window_s=1.5, configuration=config(tmp_path))
    assert time.time() - fault_end < 5


def _every(start: float, end: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((end - start) / step))]


def test_an_endpoint_empty_by_chance_under_light_load_waits_for_its_next_request(
    tmp_path: Path,
) -> None:
    now = time.time()
    # Load runs (checkouts every second), but no product was requested in the last 2 s.
    write_samples(tmp_path, [[now - n, "POST /checkout", 20.0, None] for n in range(1, 10)])
    write_samples(tmp_path, [[now - 5, "GET /products", 8.0, None]])
    cfg = config(tmp_path)

    def next_product_request() -> None:
        write_samples(tmp_path, [[time.time(), "GET /products", 9.0, "HTTP 500"]])

    timer = threading.Timer(0.5, next_product_request)
    timer.start()
    try:
        assert error_rate(window_s=2, endpoint="GET /products", configuration=cfg) == 1.0
    finally:
        timer.cancel()


def test_an_endpoint_the_running_load_never_requests_is_still_no_data(tmp_path: Path) -> None:
    now = time.time()
    write_samples(tmp_path, [[now - n / 10, "POST /checkout", 20.0, None] for n in range(1, 40)])
    cfg = config(tmp_path)
    started = time.monotonic()
    with pytest.raises(NoData, match="but the load did request POST /checkout"):
        error_rate(window_s=1, endpoint="GET /products", configuration=cfg)
    assert time.monotonic() - started < 10  # bounded by about one more window
