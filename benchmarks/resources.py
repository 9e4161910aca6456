"""CPU throttle accuracy (run by hand): ``.venv/bin/python benchmarks/resources.py``.

A child process spins on the CPU; `throttle_cpu` (through a stand-in mesh state that lists
the child as a replica) lets it run `cpu_percent` of every period. Measured: the child's
CPU time over a window divided by the window's wall time, against the share asked, with
the child's unthrottled share on the same machine for reference. Because other load on
the machine lowers what a running process gets, the time the throttler lets it run is also
measured: the share of status samples (every ~1 ms) in which it was not stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.faults import expiry, throttle  # noqa: E402
from chaos.faults.resources import throttle_cpu, unthrottle_cpu  # noqa: E402
from chaos.safety.ledger import Ledger  # noqa: E402

WINDOW_S = 4.0


def share(process: psutil.Process, seconds: float) -> tuple[float, float]:
    """(CPU time / wall time, share of samples in which the process was not stopped)."""
    cpu = process.cpu_times()
    started = time.monotonic()
    samples = running = 0
    while time.monotonic() - started < seconds:
        samples += 1
        running += process.status() != psutil.STATUS_STOPPED
        time.sleep(0.001)
    after = process.cpu_times()
    used = (after.user + after.system) - (cpu.user + cpu.system)
    return used / (time.monotonic() - started), running / samples


def main() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    process = psutil.Process(spinner.pid)
    results: dict = {"loadavg_at_start": os.getloadavg(), "runs": []}
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "mesh.json"
        replica = {"index": 0, "pid": spinner.pid, "port": 1, "restarts": 0}
        state.write_text(
            json.dumps(
                {
                    "owner_pid": os.getpid(),
                    "started_at": datetime.now(UTC).isoformat(),
                    "state_dir": folder,
                    "topology": "",
                    "proxy_api": "http://127.0.0.1:1",
                    "gateway_url": "http://127.0.0.1:2",
                    "services": {"spinner": {"address": "127.0.0.1:1", "replicas": [replica]}},
                    "edges": {},
                }
            )
        )
        cfg = {"gameday_mesh_state": str(state), "gameday_ledger": f"{folder}/ledger.jsonl"}
        try:
            results["unthrottled_share"] = share(process, WINDOW_S)[0]
            for asked in (10, 25, 50, 75):
                for period_ms in (100, 1000):
                    throttle_cpu("spinner", asked, period_ms, ttl_s=60, configuration=cfg)
                    time.sleep(0.2)
                    measured, allowed = share(process, WINDOW_S)
                    (entry,) = Ledger(cfg["gameday_ledger"]).outstanding()
                    unthrottle_cpu(**entry.undo.arguments, configuration=cfg)
                    run = {
                        "asked_pct": asked,
                        "period_ms": period_ms,
                        "measured_pct": round(measured * 100, 2),
                        "error_points": round(measured * 100 - asked, 2),
                        "allowed_pct": round(allowed * 100, 2),
                        "allowed_error_points": round(allowed * 100 - asked, 2),
                    }
                    results["runs"].append(run)
                    print(run, flush=True)
        finally:
            spinner.kill()
            spinner.wait(10)
            for proc in expiry.running_watchdogs() + throttle.running_throttlers():
                proc.wait(10)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
