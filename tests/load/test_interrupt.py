"""Interrupting the parent leaves no Locust process behind."""

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from .conftest import LOCUSTFILES, KnownServer, locust_processes_for

pytestmark = pytest.mark.slow

PARENT = Path(__file__).parent / "load_parent.py"


def wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    alive = pids
    while time.monotonic() < deadline:
        alive = [
            pid
            for pid in pids
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            break
        time.sleep(0.1)
    return alive


def wait_for_samples(out: Path, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(path.stat().st_size > 0 for path in (out / "samples").glob("*.jsonl")):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("sig", "workers"),
    [(signal.SIGINT, 0), (signal.SIGTERM, 0), (signal.SIGKILL, 0), (signal.SIGKILL, 2)],
    ids=["SIGINT", "SIGTERM", "SIGKILL", "SIGKILL-2-workers"],
)
def test_interrupted_parent_leaves_no_locust_behind(
    known_server: KnownServer, tmp_path: Path, sig: signal.Signals, workers: int
) -> None:
    out = tmp_path / "load"
    parent = subprocess.Popen(
        [
            sys.executable,
            str(PARENT),
            known_server.url,
            str(LOCUSTFILES / "mixed.py"),
            str(out),
            str(workers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    pids: list[int] = []
    try:
        line = parent.stdout.readline()  # the parent prints its Locust pids once ready
        assert line, parent.stderr.read()
        pids = list(json.loads(line).values())
        assert len(pids) == 1 + workers
        assert all(psutil.pid_exists(pid) for pid in pids)
        assert wait_for_samples(out, timeout_s=15), "load is flowing before the interrupt"
        parent.send_signal(sig)
        parent.wait(timeout=30)
        assert wait_gone(pids, timeout_s=15) == []
        assert locust_processes_for(out) == []
        if sig == signal.SIGINT:
            # A clean stop still writes the summary.
            assert json.loads((out / "summary.json").read_text())["total"]["requests"] > 0
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
