"""The game-day console's cost and delay: `gameday run --console` against the bundled shop
under load, followed by headless Chromium.

Reports (1) the delay from a load second closing, and from its line reaching
`load/stream.jsonl`, to the page holding it (the page stamps `window.gamedaySeen`; a
watcher here stamps the file at 20 Hz); (2) the CPU the console's process used while the
run went on, as a share of one core. Saves a screenshot of the page (`--screenshot`).

    .venv/bin/python benchmarks/console.py --seconds 40 --users 20 --screenshot docs/console.png
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.targets.launcher import start_mesh  # noqa: E402
from tests.console.browser import (  # noqa: E402
    chromium,
    console_run,
    run_argv,
    write_experiment,
)

RUNBOOK = (Path(__file__).resolve().parents[1] / "runbooks" / "payments-latency.md").read_text()


def _watch_stream(runs: Path, written: dict[int, float], done: threading.Event) -> None:
    """Stamp each stream line when it first appears in the file (20 Hz)."""
    offset = 0
    while not done.wait(0.05):
        streams = list(runs.glob("*/load/stream.jsonl"))
        if not streams:
            continue
        data = streams[0].read_bytes()
        now = time.time()
        for line in data[offset:].split(b"\n")[:-1]:
            written.setdefault(int(json.loads(line)["ts"]), now)
        offset = data.rfind(b"\n") + 1


def _console_process(run_pid: int) -> psutil.Process | None:
    for child in psutil.Process(run_pid).children(recursive=True):
        try:
            if "chaos.console.child" in child.cmdline():
                return child
        except psutil.Error:
            continue
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the fault")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        work = Path(tmp)
        (work / "runbooks").mkdir()
        (work / "runbooks" / "catalog-slow.md").write_text(RUNBOOK)
        experiment = write_experiment(work, args.seconds, users=args.users)
        runs = work / "runs"
        with start_mesh(state_dir=work / "mesh") as mesh:
            env = {**os.environ, "GAMEDAY_MESH_STATE": str(mesh.state_file), "COLUMNS": "200"}
            written: dict[int, float] = {}
            done = threading.Event()
            watcher = threading.Thread(target=_watch_stream, args=(runs, written, done))
            argv = run_argv(experiment, runs)
            with console_run(argv, env, work) as run, chromium(work / "p") as driver:
                url = run.url()
                watcher.start()
                driver.get(url)
                console = None
                deadline = time.monotonic() + 30
                while console is None and time.monotonic() < deadline:
                    console = _console_process(run.process.pid)
                    time.sleep(0.2)
                assert console is not None, "no console process"
                WebDriverWait(driver, 60).until(
                    lambda d: d.find_elements(By.CSS_SELECTOR, "#checks tr.failed")
                )
                cpu0, wall0 = sum(console.cpu_times()[:2]), time.monotonic()
                driver.find_element(By.ID, "note-author").send_keys("Ana (on call)")
                driver.find_element(By.ID, "note-text").send_keys(
                    "product pages slow, checkout still fine"
                )
                driver.find_element(By.CSS_SELECTOR, "#note-form button").click()
                time.sleep(min(args.seconds * 0.6, 25))  # a measured stretch mid-fault
                cpu1, wall1 = sum(console.cpu_times()[:2]), time.monotonic()
                if args.screenshot:
                    driver.save_screenshot(str(args.screenshot))
                seen = {
                    int(float(k)): v
                    for k, v in driver.execute_script("return window.gamedaySeen").items()
                }
                run.finish(args.seconds + 120)
                done.set()
                watcher.join(5)
        # Seconds already in the snapshot at page load are not pushes: leave them out.
        first_push = min(seen.values()) + 0.5
        pushed = [ts for ts in seen if seen[ts] > first_push and ts in written]
        from_file = [seen[ts] - written[ts] for ts in pushed]
        from_close = [seen[ts] - (ts + 1) for ts in pushed]
        share = (cpu1 - cpu0) / (wall1 - wall0)
        print(f"seconds pushed: {len(pushed)}")
        p95 = sorted(from_file)[int(0.95 * (len(from_file) - 1))]
        print(
            f"line written -> page (s): median {statistics.median(from_file):.2f}, "
            f"p95 {p95:.2f}, max {max(from_file):.2f}"
        )
        print(
            f"second closed -> page (s): median {statistics.median(from_close):.2f}, "
            f"max {max(from_close):.2f}"
        )
        print(f"console CPU: {share * 100:.2f} % of a core over {wall1 - wall0:.1f} s")


if __name__ == "__main__":
    main()
