"""`python -m tests.k8s.controlplane start|stop`: a control plane for a developer.

start  runs etcd, the API server, the controllers, the scheduler and the node agent in the
       foreground, prints the admin kubeconfig, and stops everything on Ctrl-C/SIGTERM.
stop   stops a control plane started that way in another terminal, and removes what a
       crashed one left behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from .assets import ControlPlaneError
from .controlplane import RUNS_ROOT, ControlPlane
from .processes import sweep_leftovers

STOP_WAIT_S = 30.0


def _start() -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    started = time.monotonic()
    plane = ControlPlane()
    try:
        plane.start()
        print(
            f"control plane at {plane.server}: nodes {', '.join(plane.nodes)} Ready "
            f"after {time.monotonic() - started:.1f} s"
        )
        print(f"export KUBECONFIG={plane.admin_kubeconfig}")
        print("Ctrl-C stops it.", flush=True)
        stop.wait()
    finally:
        plane.stop()
    return 0


def _stop() -> int:
    signalled = []
    if RUNS_ROOT.is_dir():
        for run_dir in RUNS_ROOT.iterdir():
            try:
                owner = int((run_dir / "owner").read_text())
                cmdline = Path(f"/proc/{owner}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if b"tests.k8s.controlplane" in cmdline and owner != os.getpid():
                os.kill(owner, signal.SIGTERM)
                signalled.append(owner)
    deadline = time.monotonic() + STOP_WAIT_S
    while signalled and time.monotonic() < deadline:
        signalled = [pid for pid in signalled if Path(f"/proc/{pid}").exists()]
        time.sleep(0.1)
    killed = sweep_leftovers(RUNS_ROOT)
    print(f"stopped; {len(killed)} leftover process(es) killed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.k8s.controlplane")
    parser.add_argument("command", choices=["start", "stop"])
    args = parser.parse_args(argv)
    try:
        return _start() if args.command == "start" else _stop()
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4


if __name__ == "__main__":
    sys.exit(main())
