"""The detached mesh: `python -m chaos.targets.launcher.daemon --state-dir D --state-file F`.

A process of its own (in its own session, so closing the terminal does not end it)
that owns the mesh until SIGTERM or SIGINT, then stops it and removes the state file.
If the mesh cannot start, the reason goes to stderr and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from chaos.targets.launcher.mesh import MeshStartError, start_mesh
from chaos.targets.shop.topology import TopologyError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--topology", type=Path, default=None)
    parser.add_argument("--replicas", default="{}", help='JSON, e.g. {"catalog": 3}')
    parser.add_argument("--overrides", default="{}", help="JSON deep-merged over the topology")
    parser.add_argument("--prometheus", action="store_true", help="also start Prometheus")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        handle = start_mesh(
            args.state_dir,
            args.topology,
            json.loads(args.replicas),
            overrides=json.loads(args.overrides),
            state_file=args.state_file,
            prometheus=args.prometheus,
        )
    except (MeshStartError, TopologyError) as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    try:
        print(f"mesh up in {handle.startup_seconds:.2f} s", file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
