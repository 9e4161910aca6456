"""Builders for run folders in the documented format (docs/architecture.md, "Run folder")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

T0 = 1_800_000_000.0


def write_run_folder(
    run_dir: Path,
    *,
    title: str = "Payments latency",
    slug: str = "payments-latency",
    verdict: str = "held",
    exit_code: int = 0,
    fault_p95_ms: float = 850.0,
    normal_p95_ms: float = 40.0,
    fault_start: float = 10.0,
    fault_end: float = 20.0,
    seconds: int = 30,
    requests_per_second: int = 50,
    failing_checks_until: float | None = None,
    recovers: bool = True,
    raw_samples: bool = False,
) -> Path:
    """A 30 s run: load every second, one fault from `fault_start` to `fault_end` (offsets).

    Checks run every second from the fault start; they fail from the fault start until
    `failing_checks_until` (an offset) when that is set, and keep failing if not `recovers`.
    With `raw_samples`, also the load runner's per-request samples: each second under fault
    has 47 requests at half the fault p95 (5 of them failed), 1 at the p95 and 2 at twice
    it, so the nearest-rank p95 over whole fault seconds is exactly `fault_p95_ms`.
    """
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(
        json.dumps(
            {
                "verdict": verdict,
                "exit_code": exit_code,
                "title": title,
                "slug": slug,
                "started_at": "2027-01-15T08:00:00Z",
                "ended_at": "2027-01-15T08:00:30Z",
                "target": "local",
                "reason": None,
            }
        )
    )
    timeline = [
        {"ts": T0, "kind": "phase", "name": "method", "edge": "start"},
        {
            "ts": T0 + fault_start,
            "kind": "fault",
            "id": "f1",
            "name": "add_latency",
            "target": "orders->payments",
            "edge": "start",
        },
    ]
    for offset in range(int(fault_start), seconds):
        failing = failing_checks_until is not None and (
            offset < failing_checks_until or not recovers
        )
        timeline.append(
            {
                "ts": T0 + offset + 0.5,
                "kind": "check",
                "probe": "p95",
                "phase": "method",
                "value": 1.0,
                "tolerance": "<= 500",
                "ok": not failing,
            }
        )
    timeline.append(
        {
            "ts": T0 + fault_end,
            "kind": "fault",
            "id": "f1",
            "name": "add_latency",
            "target": "orders->payments",
            "edge": "end",
        }
    )
    timeline.sort(key=lambda event: event["ts"])
    (run_dir / "timeline.jsonl").write_text("".join(json.dumps(e) + "\n" for e in timeline))
    load = run_dir / "load"
    load.mkdir()
    lines = []
    for offset in range(seconds):
        under_fault = fault_start <= offset < fault_end
        p95 = fault_p95_ms if under_fault else normal_p95_ms
        lines.append(
            {
                "ts": T0 + offset,
                "requests": requests_per_second,
                "failures": 5 if under_fault else 0,
                "failures_by_kind": {"HTTP 503": 5} if under_fault else {},
                "rps": float(requests_per_second),
                "error_rate": (5 / requests_per_second) if under_fault else 0.0,
                "p50": p95 / 2,
                "p90": p95 * 0.9,
                "p95": p95,
                "p99": p95 * 1.2,
                "max": p95 * 1.5,
                "endpoints": {},
            }
        )
    (load / "stream.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    if raw_samples:
        (load / "samples").mkdir()
        rows = []
        for offset in range(seconds):
            end = T0 + offset
            if fault_start <= offset < fault_end:
                latencies = [fault_p95_ms / 2] * 47 + [fault_p95_ms] + [fault_p95_ms * 2] * 2
            else:
                latencies = [normal_p95_ms] * 50
            for i, latency in enumerate(latencies):
                kind = "HTTP 503" if fault_start <= offset < fault_end and i < 5 else None
                rows.append([end + i / 60, "GET /products", latency, kind])
        (load / "samples" / "local.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run_dir


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    runs = tmp_path / "runs"

    def make(name: str, **kwargs: object) -> Path:
        return write_run_folder(runs / name, **kwargs)

    return make
