"""Helper processes a fault leaves running: `python -m <module>` in a session of its own,
so a runner killed with SIGKILL does not take the helper with it."""

from __future__ import annotations

import subprocess
import sys


class DetachedHelpers:
    """The helpers of one kind that this process started."""

    def __init__(self, module: str) -> None:
        self._module = module
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start `python -m <module> *args`, detached, and return it."""
        self.running()  # reaps finished ones so they do not linger as zombies
        proc = subprocess.Popen(
            [sys.executable, "-m", self._module, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        self._procs.append(proc)
        return proc

    def running(self) -> list[subprocess.Popen[bytes]]:
        """The helpers still running (finished ones reaped)."""
        self._procs[:] = [proc for proc in self._procs if proc.poll() is None]
        return list(self._procs)
