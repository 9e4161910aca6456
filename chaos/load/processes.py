"""Start, signal and read the logs of Locust subprocesses (each in its own process group)."""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from chaos.load.samples import samples_path, status_path
from chaos.load.spec import LoadSpec

ENTRY = Path(__file__).parent / "child" / "gameday_locust.py"
LOOPBACK = "127.0.0.1"
_LOG_ERROR = re.compile(r"/(ERROR|CRITICAL)/")


@dataclass
class LocustProcess:
    """One Locust process: `local`, `master` or `worker-N`."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_code(self) -> int | None:
        return self.popen.poll()

    def signal_group(self, sig: signal.Signals) -> None:
        # The process leads its own session, so its group also holds anything it spawned.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def error_message(self) -> str:
        """What Locust said went wrong: the exception line(s) or its ERROR log lines."""
        return locust_error_message(read_tail(self.log_path))


def read_tail(path: Path, max_bytes: int = 16_000) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - max_bytes))
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def locust_error_message(log_text: str) -> str:
    lines = [line.rstrip() for line in log_text.splitlines() if line.strip()]
    if "Traceback (most recent call last):" in log_text:
        tb = log_text.rsplit("Traceback (most recent call last):", 1)[1].splitlines()
        tb = [line.rstrip() for line in tb if line.strip()]
        locations = [line.strip() for line in tb if line.lstrip().startswith('File "')]
        where = f" ({locations[-1]})" if locations else ""
        # A SyntaxError's caret lines come before its message; the message is last.
        return f"{tb[-1].strip()}{where}" if tb else "traceback without message"
    errors = [line for line in lines if _LOG_ERROR.search(line)]
    if errors:
        return " | ".join(errors[-3:])
    return " | ".join(lines[-5:]) if lines else "no output"


def launch(spec: LoadSpec, name: str, args: list[str], log_path: Path) -> LocustProcess:
    output_dir = spec.output_dir
    env = {
        **os.environ,
        **spec.env,
        "GAMEDAY_LOAD_SAMPLES": str(samples_path(output_dir, name)),
        "GAMEDAY_LOAD_STATUS": str(status_path(output_dir, name)),
        "GAMEDAY_LOAD_PARENT_PID": str(os.getpid()),
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [sys.executable, str(ENTRY), *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    return LocustProcess(name=name, popen=popen, log_path=log_path)


def _common_args(spec: LoadSpec) -> list[str]:
    return ["-f", str(spec.resolved_locustfile), "--host", spec.host, "--loglevel", "INFO"]


def primary_args(spec: LoadSpec) -> list[str]:
    """Arguments of the standalone process, or of the master in distributed mode.

    No --run-time: Locust's own timer ended runs 0.3-0.5 s early here (it is armed before
    the test starts), so the runner stops a timed run itself, counted from test start.
    """
    args = [
        *_common_args(spec),
        "--headless",
        "--only-summary",
        "--users",
        str(spec.users),
        "--spawn-rate",
        str(spec.spawn_rate),
        "--stop-timeout",
        str(math.ceil(spec.stop_timeout_s)),
        # A non-zero exit then means Locust itself failed, not that requests did.
        "--exit-code-on-error",
        "0",
    ]
    if spec.workers:
        args += [
            "--master",
            "--master-bind-host",
            LOOPBACK,
            "--master-bind-port",
            "0",  # Locust binds a free port and reports it in our `init` status line
            "--expect-workers",
            str(spec.workers),
        ]
    return [*args, *spec.locust_args, *spec.user_classes]


def worker_args(spec: LoadSpec, master_port: int) -> list[str]:
    return [
        *_common_args(spec),
        "--worker",
        "--master-host",
        LOOPBACK,
        "--master-port",
        str(master_port),
        *spec.user_classes,
    ]


def stop_all(processes: list[LocustProcess], grace_s: float) -> None:
    """SIGTERM the primary first (it stops its workers), then everyone; SIGKILL what is left."""
    if not processes:
        return
    primary, *others = processes
    if primary.exit_code() is None:
        primary.signal_group(signal.SIGTERM)
        _wait(processes, grace_s)
    for process in others:
        if process.exit_code() is None:
            process.signal_group(signal.SIGTERM)
    _wait(processes, min(grace_s, 2.0))
    for process in processes:
        # Also sweeps grandchildren left in the group after the process itself exited.
        process.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=5)


def _wait(processes: list[LocustProcess], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(p.exit_code() is None for p in processes):
        time.sleep(0.05)
