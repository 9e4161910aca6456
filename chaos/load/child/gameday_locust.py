"""Run Locust's own `main()` with a small recorder plugged into its events.

This file runs as a script in the Locust subprocess (never imported by the
engine, because `import locust` monkey-patches the whole process with gevent).
It records every request as one raw sample line, `[end_ts, endpoint, latency_ms,
error_kind_or_null]`, in the file named by `GAMEDAY_LOAD_SAMPLES`, and Locust's
lifecycle (`init`, `test_start`, `spawning_complete`, `quitting`) as JSON lines
in the file named by `GAMEDAY_LOAD_STATUS`. The parent tails both files.
"""

import ctypes
import json
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
FLUSH_INTERVAL_S = 0.2
PARENT_POLL_INTERVAL_S = 1.0


def _die_with_parent() -> None:
    """Ask the kernel to SIGTERM us when the spawning thread dies, even by SIGKILL."""
    parent_pid = int(os.environ.get("GAMEDAY_LOAD_PARENT_PID", "0"))
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the parent-poll greenlet below still covers this case
    # The parent may have died between fork and prctl: then nobody would signal us.
    if parent_pid and os.getppid() != parent_pid:
        sys.exit(3)


_die_with_parent()

# Locust is only importable after the line above; it patches the process on import.
import gevent  # noqa: E402
from locust import events  # noqa: E402
from locust.exception import CatchResponseError  # noqa: E402
from locust.main import main  # noqa: E402

_CONNECTION_CLOSED_WORDS = (
    "reset",
    "closed",
    "disconnect",
    "aborted",
    "broken pipe",
    "eof",
    "incomplete",
    "badstatusline",
    "empty reply",
)


def error_kind(exception: BaseException | None, response: object) -> str | None:
    """Name the kind of failure of one request (None for a success)."""
    if exception is None:
        return None
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:
        return f"http_{status}"
    text = f"{type(exception).__name__} {exception!r} {exception}".lower()
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if "refused" in text:
        return "connection_refused"
    if any(word in text for word in _CONNECTION_CLOSED_WORDS):
        return "connection_closed"
    if isinstance(exception, CatchResponseError):
        return "check_failed"
    return type(exception).__name__


class _Recorder:
    def __init__(self, samples_path: str | None, status_path: str | None) -> None:
        self._samples = open(samples_path, "a", encoding="utf-8") if samples_path else None  # noqa: SIM115
        self._status = open(status_path, "a", encoding="utf-8") if status_path else None  # noqa: SIM115
        self._buffer: list[str] = []
        self._encoded_names: dict[str, str] = {}

    def sample(self, endpoint: str, end_ts: float, latency_ms: float, kind: str | None) -> None:
        name = self._encoded_names.get(endpoint)
        if name is None:
            name = self._encoded_names[endpoint] = json.dumps(endpoint)
        kind_json = "null" if kind is None else json.dumps(kind)
        self._buffer.append(f"[{end_ts:.4f},{name},{latency_ms:.3f},{kind_json}]\n")

    def flush(self) -> None:
        if self._samples is not None and self._buffer:
            lines, self._buffer = self._buffer, []
            self._samples.write("".join(lines))
            self._samples.flush()

    def status(self, event: str, **fields: object) -> None:
        if self._status is not None:
            self._status.write(json.dumps({"event": event, "ts": time.time(), **fields}) + "\n")
            self._status.flush()


_recorder = _Recorder(os.environ.get("GAMEDAY_LOAD_SAMPLES"), os.environ.get("GAMEDAY_LOAD_STATUS"))


@events.request.add_listener
def _on_request(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: object = None,
    context: object = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: object,
) -> None:
    latency_ms = float(response_time or 0.0)
    end_ts = (start_time + latency_ms / 1000.0) if start_time else time.time()
    _recorder.sample(f"{request_type} {name}", end_ts, latency_ms, error_kind(exception, response))


def _flush_forever() -> None:
    while True:
        gevent.sleep(FLUSH_INTERVAL_S)
        _recorder.flush()
        # Every sample recorded until now is on disk (no greenlet ran since the flush): the
        # parent may write the seconds before this one without waiting out its grace.
        _recorder.status("flushed")


def _watch_parent(parent_pid: int) -> None:
    # Fallback for platforms without PR_SET_PDEATHSIG: an orphan gets a new parent.
    while True:
        gevent.sleep(PARENT_POLL_INTERVAL_S)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)
            return


@events.init.add_listener
def _on_init(environment: object, runner: object = None, **_: object) -> None:
    role = type(runner).__name__.removesuffix("Runner").lower() if runner else "unknown"
    server = getattr(runner, "server", None)
    _recorder.status("init", role=role, pid=os.getpid(), master_port=getattr(server, "port", None))
    gevent.spawn(_flush_forever)
    parent_pid = int(os.environ.get("GAMEDAY_LOAD_PARENT_PID", "0"))
    if parent_pid:
        gevent.spawn(_watch_parent, parent_pid)


@events.test_start.add_listener
def _on_test_start(**_: object) -> None:
    _recorder.status("test_start")


@events.spawning_complete.add_listener
def _on_spawning_complete(user_count: int, **_: object) -> None:
    _recorder.status("spawning_complete", user_count=user_count)


@events.quitting.add_listener
def _on_quitting(**_: object) -> None:
    _recorder.flush()
    _recorder.status("quitting")


@events.quit.add_listener
def _on_quit(exit_code: int, **_: object) -> None:
    # Users finishing their task within --stop-timeout record after `quitting`.
    _recorder.flush()
    _recorder.status("quit", exit_code=exit_code)


if __name__ == "__main__":
    # Our own folder must not shadow modules of the user's locustfile.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p) != os.path.dirname(__file__)]
    sys.argv[0] = "locust"
    main()
