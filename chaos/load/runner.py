"""Run Locust headless in subprocesses and write its per-second stream while it runs."""

from __future__ import annotations

import atexit
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from chaos.load.errors import LoadError
from chaos.load.processes import LocustProcess, launch, primary_args, stop_all, worker_args
from chaos.load.reader import StreamReader
from chaos.load.samples import (
    SAMPLES_DIR,
    STATUS_DIR,
    JsonLinesTail,
    SampleTail,
    samples_path,
    status_path,
)
from chaos.load.spec import LoadSpec
from chaos.load.statistics import LoadSummary, RequestStats, SecondStats
from chaos.load.stream import StreamWriter

SUMMARY_FILE = "summary.json"
POLL_INTERVAL_S = 0.2
# A second is written once every Locust process said it flushed its samples past the
# second's end (a `flushed` status line, every 0.2 s), less a margin for a request that
# ended just before a flush but was recorded just after it; at the latest, this long after
# the second ended (a process that stopped flushing holds the stream up no longer).
FLUSH_MARGIN_S = 0.1
STREAM_GRACE_S = 1.5
STOP_GRACE_S = 5.0

_active: weakref.WeakSet[LoadRunner] = weakref.WeakSet()


@atexit.register
def _stop_active_runners() -> None:
    for runner in list(_active):
        runner.stop()


class LoadRunner:
    """Locust headless in subprocesses (never imported here), streamed second by second.

    A background thread starts the Locust processes, tails their raw samples into
    `output_dir/stream.jsonl`, and on stop (or when a timed run ends) terminates
    every process group and writes `summary.json`. Each Locust process asks the
    kernel to SIGTERM it when that thread's process dies, so even a SIGKILLed
    parent leaves no Locust behind.
    """

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.output_dir = Path(spec.output_dir)
        self._processes: list[LocustProcess] = []
        self._stop_requested = threading.Event()
        self._ready = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: LoadError | None = None
        self._exit_codes: dict[str, int | None] = {}
        self._master_port: int | None = None
        self._flushed: dict[str, float] = {}  # process -> when it last flushed its samples
        self.started_at: float | None = None
        self.load_ended_at: float | None = None
        self.ended_at: float | None = None
        self.summary: LoadSummary | None = None
        self.latest: SecondStats | None = None
        self._stream = StreamWriter(self.output_dir)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> LoadRunner:
        if self._thread is not None:
            raise LoadError("this LoadRunner was already started")
        locustfile = self.spec.resolved_locustfile
        if not locustfile.is_file():
            raise LoadError(f"locustfile not found: {locustfile}")
        try:
            self._prepare_output_dir()
        except OSError as exc:
            raise LoadError(
                f"cannot write the load output folder {self.output_dir}: {exc.strerror or exc}"
            ) from exc
        _active.add(self)
        self._thread = threading.Thread(target=self._run, name="gameday-load", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float) -> None:
        """Block until every user is spawned; LoadError if Locust failed or took too long."""
        if self._thread is None:
            raise LoadError("wait_ready() before start()")
        deadline = time.monotonic() + timeout
        while not self._ready.is_set():
            if self._done.is_set():
                raise self._failure or LoadError(
                    f"Locust stopped before load started (see {self.output_dir / 'locust.log'})"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LoadError(
                    f"Locust was not ready within {timeout:g} s: "
                    f"{self._last_words()} (see {self.output_dir / 'locust.log'})"
                )
            self._ready.wait(min(remaining, POLL_INTERVAL_S))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until Locust finished (a timed run ended or stop() was called)."""
        return self._done.wait(timeout)

    def stop(self) -> LoadSummary | None:
        """Stop Locust (idempotent); returns the summary, also in `summary.json`."""
        if self._thread is None:
            return None
        if not self._stop_requested.is_set() and not self._done.is_set():
            self._mark_load_end(time.time())
        self._stop_requested.set()
        self._thread.join()
        return self.summary

    def __enter__(self) -> LoadRunner:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    @property
    def failure(self) -> LoadError | None:
        return self._failure

    @property
    def pids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self._processes}

    # -- the background thread ---------------------------------------------------

    def _prepare_output_dir(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        for sub in (SAMPLES_DIR, STATUS_DIR):
            (self.output_dir / sub).mkdir(exist_ok=True)
            for stale in (self.output_dir / sub).glob("*.jsonl"):
                stale.unlink()
        (self.output_dir / "stream.jsonl").unlink(missing_ok=True)

    def _run(self) -> None:
        # Processes are started from this thread, which outlives them: the kernel's
        # parent-death signal is tied to the thread that forked.
        sample_tails: list[SampleTail] = []
        status_tails: dict[str, JsonLinesTail] = {}

        def start_process(name: str, args: list[str], log_name: str) -> None:
            process = launch(self.spec, name, args, self.output_dir / log_name)
            self._processes.append(process)
            sample_tails.append(SampleTail(samples_path(self.output_dir, name)))
            status_tails[name] = JsonLinesTail(status_path(self.output_dir, name))

        try:
            primary = "master" if self.spec.workers else "local"
            start_process(primary, primary_args(self.spec), "locust.log")
            while not self._stop_requested.is_set():
                for name, tail in list(status_tails.items()):
                    for event in tail.read_new():
                        self._on_status(name, event, start_process)
                for tail in sample_tails:
                    self._stream.add(tail.read_samples())
                self._write_finished_seconds()
                if self._check_exits() or self._duration_elapsed():
                    break
                self._stop_requested.wait(POLL_INTERVAL_S)
        except Exception as exc:  # noqa: BLE001 - reported through wait_ready / summary
            self._failure = LoadError(f"load runner failed: {exc}")
        finally:
            try:
                self._finish(status_tails, sample_tails)
            except Exception as exc:  # noqa: BLE001 - waiters must still be released
                self._failure = self._failure or LoadError(f"load runner failed: {exc}")
            finally:
                _active.discard(self)
                self._done.set()

    def _finish(
        self, status_tails: dict[str, JsonLinesTail], sample_tails: list[SampleTail]
    ) -> None:
        """Stop every process, write the rest of the stream and the summary."""
        stop_all(self._processes, self.spec.stop_timeout_s + STOP_GRACE_S)
        self.ended_at = time.time()
        self._exit_codes = {p.name: p.exit_code() for p in self._processes}
        for name, tail in status_tails.items():
            for event in tail.read_new():
                self._on_status(name, event, None)
        for tail in sample_tails:
            self._stream.add(tail.read_samples())
        written = self._stream.write_all(self.ended_at)
        if written:
            self.latest = written[-1]
        self.summary = self._summarize()
        (self.output_dir / SUMMARY_FILE).write_text(
            self.summary.model_dump_json(indent=2) + "\n", encoding="utf-8"
        )

    def _on_status(
        self,
        process: str,
        event: dict,
        start_process: Callable[[str, list[str], str], None] | None,
    ) -> None:
        kind = event.get("event")
        primary = process in ("local", "master")
        if kind == "init" and process == "master" and start_process is not None:
            self._master_port = int(event["master_port"])
            for index in range(1, self.spec.workers + 1):
                start_process(
                    f"worker-{index}",
                    worker_args(self.spec, self._master_port),
                    f"locust-worker-{index}.log",
                )
        elif kind == "test_start" and primary and self.started_at is None:
            self.started_at = float(event["ts"])
            self._stream.start_at(self.started_at)
        elif kind == "spawning_complete" and primary:
            self._ready.set()
        elif kind == "quitting":
            self._mark_load_end(float(event["ts"]))
        elif kind == "flushed":
            self._flushed[process] = float(event["ts"])

    def _mark_load_end(self, ts: float) -> None:
        self.load_ended_at = ts if self.load_ended_at is None else min(self.load_ended_at, ts)

    def _duration_elapsed(self) -> bool:
        if self.spec.duration_s is None or self.started_at is None:
            return False
        now = time.time()
        if now < self.started_at + self.spec.duration_s:
            return False
        self._mark_load_end(now)
        return True

    def _write_finished_seconds(self) -> None:
        names = [process.name for process in self._processes]
        written = self._stream.write_until(complete_until(time.time(), self._flushed, names))
        if written:
            self.latest = written[-1]

    def _check_exits(self) -> bool:
        """True when the run is over: the primary exited, or anything died before ready."""
        for process in self._processes:
            code = process.exit_code()
            if code is None:
                continue
            if not self._ready.is_set():
                self._failure = LoadError(
                    f"Locust ({process.name}) exited with code {code} before load started: "
                    f"{process.error_message()} (log: {process.log_path})"
                )
                return True
            if process is self._processes[0]:
                if code != 0:  # --exit-code-on-error 0: failed requests do not count
                    self._failure = LoadError(
                        f"Locust ({process.name}) exited with code {code} during the run: "
                        f"{process.error_message()} (log: {process.log_path})"
                    )
                return True
        return False

    def _last_words(self) -> str:
        if not self._processes:
            return "no Locust process was started"
        return "; ".join(f"{p.name}: {p.error_message()}" for p in self._processes)

    def _summarize(self) -> LoadSummary:
        reader = StreamReader(self.output_dir)
        total = RequestStats()
        endpoints: dict[str, RequestStats] = {}
        duration = 0.0
        if self.started_at is not None and self.ended_at is not None:
            start = self.started_at
            end = max(min(self.load_ended_at or self.ended_at, self.ended_at), start + 1e-3)
            duration = end - start
            # Requests finishing during shutdown complete after `end`; count them all.
            window_end = self.ended_at + 1.0
            total = _as_request_stats(reader.window(start, window_end), end - start)
            for endpoint in reader.endpoints():
                stats = reader.window(start, window_end, endpoint=endpoint)
                endpoints[endpoint] = _as_request_stats(stats, end - start)
        return LoadSummary(
            host=self.spec.host,
            locustfile=str(self.spec.resolved_locustfile),
            users=self.spec.users,
            spawn_rate=self.spec.spawn_rate,
            workers=self.spec.workers,
            started_at=self.started_at,
            ended_at=self.ended_at or time.time(),
            duration_s=round(duration, 3),
            ready=self._ready.is_set(),
            error=str(self._failure) if self._failure else None,
            exit_codes=self._exit_codes,
            late_samples=self._stream.late_samples,
            total=total,
            endpoints=endpoints,
        )


def complete_until(now: float, flushed: Mapping[str, float], processes: Sequence[str]) -> int:
    """The second before which the stream may be written: every process has flushed past
    it (less `FLUSH_MARGIN_S`), or `STREAM_GRACE_S` has passed since it ended."""
    until = math.floor(now - STREAM_GRACE_S)
    if processes and all(name in flushed for name in processes):
        until = max(until, math.floor(min(flushed[n] for n in processes) - FLUSH_MARGIN_S))
    return until


def _as_request_stats(stats: RequestStats, seconds: float) -> RequestStats:
    """Drop window fields and measure throughput over the run, not the padded window."""
    data = RequestStats.model_validate(stats.model_dump(include=set(RequestStats.model_fields)))
    data.rps = round(data.requests / seconds, 3) if seconds > 0 else 0.0
    return data
