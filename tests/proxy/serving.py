"""`gameday proxy serve` started as a subprocess on an ephemeral port, for any suite."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SERVE = [sys.executable, "-c", "from chaos.cli.main import app; app()", "proxy", "serve"]
Serve = Callable[..., tuple[subprocess.Popen, str]]


@contextmanager
def proxy_servers() -> Iterator[Serve]:
    """`serve(*args)` starts one (its API on port 0 unless args say otherwise) and returns
    it with its API URL; every one started is killed on the way out."""
    started: list[subprocess.Popen] = []

    def serve(*args: str) -> tuple[subprocess.Popen, str]:
        proc = subprocess.Popen(
            [*SERVE, "--port", "0", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        started.append(proc)
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until ready or exit; the process is bounded
        match = re.search(r"http://[\d.]+:\d+", line)
        assert match, line
        return proc, match.group(0)

    try:
        yield serve
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()
