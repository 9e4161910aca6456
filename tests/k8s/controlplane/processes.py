"""The control plane's child processes: started so that they die with the process that
started them, stopped for sure, and swept up when a crashed earlier session left any.

Every process of one control plane is recorded in its run directory (`pids`), beside the
pid of the owning Python process (`owner`). A later start removes run directories whose
owner is gone, killing the processes they list that still run one of our binaries."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

# A test cluster's state is thrown away: the API server's graceful shutdown (draining
# watches, ~5 s) buys nothing, so it gets one second before SIGKILL.
STOP_GRACE_S = 1.0
SWEEP_WAIT_S = 5.0
# setpriv (util-linux) execs the binary with SIGKILL as its parent-death signal, so a test
# session killed outright cannot leave an API server running; unlike a preexec_fn it is
# safe in a process that already runs threads.
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL", "--"]


class ManagedProcess:
    """One binary, its log file, and a stop that does not return before it is gone."""

    def __init__(self, name: str, argv: list[str], log_path: Path, run_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            [*DIE_WITH_PARENT, *argv],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with (run_dir / "pids").open("a") as pids:
            pids.write(f"{self.popen.pid} {argv[0]}\n")

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(STOP_GRACE_S)
        self._log.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runs_binary(pid: int, binary: str) -> bool:
    """Whether pid still runs that binary: a recycled pid must not be killed."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].decode(errors="replace") == binary


def sweep_leftovers(root: Path) -> list[int]:
    """Kill the processes of run directories under root whose owner has died; returns the
    pids killed."""
    killed: list[int] = []
    if not root.is_dir():
        return killed
    for run_dir in root.iterdir():
        owner_file = run_dir / "owner"
        try:
            owner = int(owner_file.read_text().strip())
        except (OSError, ValueError):
            owner = None
        if owner is not None and _alive(owner):
            continue
        pids_file = run_dir / "pids"
        lines = pids_file.read_text().splitlines() if pids_file.exists() else []
        for line in lines:
            pid_text, _, binary = line.partition(" ")
            pid = int(pid_text)
            if _runs_binary(pid, binary):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        deadline = time.monotonic() + SWEEP_WAIT_S
        while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(run_dir, ignore_errors=True)
    return killed
