"""Load probes: error rate, latency percentile and throughput of the live load stream.

They read `<gameday_run_dir>/load` (the load runner's per-second stream and raw samples)
through `chaos.load.StreamReader`. The window is either the trailing `window_s` seconds
(`since: "window"`) or everything since the current fault started (`since: "fault"`);
the fault start is the latest `fault` start event without an end in the run's
`timeline.jsonl`, else the latest applied fault in the ledger. With no fault active,
`since: "fault"` measures the trailing window. After the method (the steady state
after), a window never reaches back past the faults' end, and only requests that started
after it count.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chaos.probes.errors import InvalidProbeArgument, NoData, ProbeTargetUnknown
from chaos.safety.ledger import RUN_DIR_CONFIG_KEY, find_ledger

if TYPE_CHECKING:
    from chaos.load import StreamReader, WindowStats

__all__ = ["error_rate", "latency_percentile", "throughput"]

Since = Literal["window", "fault"]
Configuration = Mapping[str, Any] | None
PERCENTILE_FIELDS = {50: "p50", 90: "p90", 95: "p95", 99: "p99", 100: "max"}
MAX_WINDOW_S = 3600
# Windows end this long ago: the Locust side flushes raw samples every 0.2 s, so a
# shorter lag would miss the newest requests, and a longer one only delays detection.
PROBE_LAG_S = 0.5
# After the faults, a probe waits until it has at least this much of "after" to measure.
MIN_AFTER_WINDOW_S = 1.0
AFTER_POLL_S = 0.25


def _load_dir(configuration: Configuration, load_dir: str | None) -> Path:
    if load_dir:
        return Path(load_dir)
    run_dir = (configuration or {}).get(RUN_DIR_CONFIG_KEY)
    if not run_dir:
        raise ProbeTargetUnknown(
            f"no load stream to read: configuration {RUN_DIR_CONFIG_KEY!r} is not set "
            "(run the experiment with `gameday run`, or pass `load_dir`)"
        )
    return Path(run_dir) / "load"


def _timeline(configuration: Configuration) -> list[dict[str, Any]]:
    run_dir = (configuration or {}).get(RUN_DIR_CONFIG_KEY)
    if not run_dir:
        return []
    try:
        lines = (Path(run_dir) / "timeline.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line being written right now
    return events


def _open_faults(events: list[dict[str, Any]]) -> dict[str, float]:
    started: dict[str, float] = {}
    for event in events:
        if event.get("kind") != "fault":
            continue
        key = str(event.get("id") or event.get("name"))
        if event.get("edge") == "start":
            started[key] = float(event["ts"])
        elif event.get("edge") == "end":
            started.pop(key, None)
    return started


def after_faults_start(configuration: Configuration) -> float | None:
    """Once the method has ended and no fault is open: when "after the faults" began (the
    later of the last fault's end, the method's end and the recovery window's start);
    None before that."""
    events = _timeline(configuration)
    if _open_faults(events):
        return None
    method_ended = any(
        event.get("kind") == "phase"
        and event.get("name") == "method"
        and event.get("edge") == "end"
        for event in events
    )
    if not method_ended:
        return None
    marks = [
        float(event["ts"])
        for event in events
        if (event.get("kind"), event.get("edge")) == ("fault", "end")
        or (event.get("kind"), event.get("name"), event.get("edge"))
        in (("phase", "method", "end"), ("phase", "recovery", "start"))
    ]
    return max(marks) if marks else None


def current_fault_start(configuration: Configuration) -> float | None:
    """Unix time the current fault started, from the timeline, else from the ledger."""
    started = _open_faults(_timeline(configuration))
    if started:
        return max(started.values())
    applied = [
        entry.ts for entry in find_ledger(configuration).outstanding() if entry.status == "applied"
    ]
    return max(applied) if applied else None


def _after_faults_window(
    reader: StreamReader, after: float, window_s: float, endpoint: str | None
) -> WindowStats:
    """The window since the faults ended, once it holds at least MIN_AFTER_WINDOW_S; while it
    has no request yet (light load, a short recovery), keep filling it up to `window_s`."""
    wait_s = after + MIN_AFTER_WINDOW_S + PROBE_LAG_S - time.time()
    if wait_s > 0:
        time.sleep(wait_s)
    deadline = after + max(window_s, MIN_AFTER_WINDOW_S) + PROBE_LAG_S
    while True:
        end = time.time() - PROBE_LAG_S
        stats = reader.window(
            max(end - window_s, after), end, endpoint=endpoint, started_from=after
        )
        remaining = deadline - time.time()
        if stats.requests or remaining <= 0:
            return stats
        time.sleep(min(AFTER_POLL_S, remaining))


def _trailing_window(
    reader: StreamReader, end: float, window_s: float, endpoint: str | None
) -> WindowStats:
    """The last `window_s`. A light load leaves a short window of one endpoint empty by
    chance now and then (4 users, 2 s); while the load runs but this endpoint's window has
    no request, keep filling it forward for up to another `window_s` instead of reporting
    an outage. With no request to any endpoint the load is not running: no waiting."""
    start = end - window_s
    stats = reader.window(start, end, endpoint=endpoint)
    if stats.requests or endpoint is None or not reader.window(start, end).requests:
        return stats
    deadline = time.time() + window_s
    while not stats.requests and time.time() < deadline:
        time.sleep(AFTER_POLL_S)
        stats = reader.window(start, time.time() - PROBE_LAG_S, endpoint=endpoint)
    return stats


def _stats(
    window_s: float,
    since: str,
    endpoint: str | None,
    configuration: Configuration,
    load_dir: str | None,
) -> WindowStats:
    from chaos.load import StreamReader

    if not 0 < window_s <= MAX_WINDOW_S:
        raise InvalidProbeArgument(f"window_s must be > 0 and <= {MAX_WINDOW_S}, not {window_s}")
    if since not in ("window", "fault"):
        raise InvalidProbeArgument(f"since must be 'window' or 'fault', not {since!r}")
    reader = StreamReader(_load_dir(configuration, load_dir))
    endpoint = _stream_endpoint(reader, endpoint)
    fault_start = current_fault_start(configuration) if since == "fault" else None
    # Stop short of now: the newest samples are still in flight.
    end = time.time() - PROBE_LAG_S
    if fault_start is not None:
        if end <= fault_start:
            raise NoData(f"the current fault started only {time.time() - fault_start:.1f} s ago")
        stats = reader.window(fault_start, end, endpoint=endpoint)
    elif (after := after_faults_start(configuration)) is not None:
        # The steady state after measures the system after the faults: not the faults' own
        # seconds, nor requests that started under a fault and completed after it.
        stats = _after_faults_window(reader, after, window_s, endpoint)
    else:
        stats = _trailing_window(reader, end, window_s, endpoint)
    if not stats.requests:
        raise NoData(_no_requests(reader, stats, endpoint))
    return stats


def _stream_endpoint(reader: StreamReader, endpoint: str | None) -> str | None:
    """The stream's name for `endpoint`. Locust names an endpoint "<METHOD> <name>", so a
    locustfile whose request names already start with the method (`name="GET /products"`)
    records "GET GET /products"; `endpoint: "GET /products"` means that one too."""
    if endpoint is None:
        return None
    seen = reader.endpoints()
    method = endpoint.split(" ", 1)[0]
    doubled = f"{method} {endpoint}"
    if endpoint not in seen and doubled in seen:
        return doubled
    return endpoint


def _no_requests(reader: StreamReader, stats: WindowStats, endpoint: str | None) -> str:
    """Why a window is empty: no load at all, or load to other endpoints (named, since a
    misspelt endpoint must not read as an outage)."""
    window = f"in the {stats.seconds:.0f} s window"
    if endpoint is None:
        return f"no requests {window}: is the load running?"
    others = {
        name: reader.window(stats.start, stats.end, endpoint=name).requests
        for name in reader.endpoints()
        if name != endpoint
    }
    seen = ", ".join(f"{name} ({count})" for name, count in sorted(others.items()) if count)
    if not seen:
        return f"no requests to {endpoint} {window}: is the load running?"
    return f"no requests to {endpoint} {window}, but the load did request {seen}"


def error_rate(
    window_s: float = 10,
    since: Since = "window",
    endpoint: str | None = None,
    load_dir: str | None = None,
    configuration: Configuration = None,
) -> float:
    """Failed requests / requests (0.0–1.0) over the window, all endpoints or one
    (`endpoint: "POST /checkout"`)."""
    return float(_stats(window_s, since, endpoint, configuration, load_dir).error_rate)


def latency_percentile(
    p: int = 95,
    window_s: float = 10,
    since: Since = "window",
    endpoint: str | None = None,
    load_dir: str | None = None,
    configuration: Configuration = None,
) -> float:
    """The `p`th latency percentile in milliseconds (p: 50, 90, 95, 99 or 100 for the
    maximum), computed from the raw samples of the window."""
    if p not in PERCENTILE_FIELDS:
        raise InvalidProbeArgument(f"p must be one of {sorted(PERCENTILE_FIELDS)}, not {p}")
    stats = _stats(window_s, since, endpoint, configuration, load_dir)
    value = getattr(stats, PERCENTILE_FIELDS[p])
    if value is None:
        raise NoData(f"no latency samples in the window for p{p}")
    return float(value)


def throughput(
    window_s: float = 10,
    since: Since = "window",
    endpoint: str | None = None,
    load_dir: str | None = None,
    configuration: Configuration = None,
) -> float:
    """Requests per second over the window (0.0 when the load produced nothing)."""
    try:
        return float(_stats(window_s, since, endpoint, configuration, load_dir).rps)
    except NoData:
        return 0.0
