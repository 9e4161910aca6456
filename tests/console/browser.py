"""Debian's Chromium under Selenium, and `gameday run --console` as a child process: shared
by the console's browser test and its benchmark."""

from __future__ import annotations

import contextlib
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

GAMEDAY = Path(sys.executable).parent / "gameday"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1100",
)
URL_LINE = re.compile(r"console: (http://\S+/)")

EXPERIMENT = """\
title: Catalog <i>slow</i> & checked
description: the console's browser test
extensions:
  - name: gameday
    target: mesh
    load: {{users: {users}, spawn_rate: {users}, warmup_s: 1, baseline_s: 2, recovery_s: 1}}
    hypothesis_frequency_s: 1
    runbook: runbooks/catalog-slow.md
steady-state-hypothesis:
  title: products are served fast
  probes:
    - type: probe
      name: products-p95-ms
      tolerance: {{type: range, range: [0, 300]}}
      provider:
        type: python
        module: chaos.probes.load
        func: latency_percentile
        arguments: {{window_s: 2, endpoint: "GET /products"}}
method:
  - type: action
    name: slow-catalog
    provider:
      type: python
      module: chaos.faults.network
      func: add_latency
      arguments: {{edge: "gateway->catalog", latency_ms: 600, ttl_s: 120}}
    pauses: {{after: {pause}}}
rollbacks:
  - type: action
    name: lift-latency
    provider:
      type: python
      module: chaos.faults.network
      func: remove_toxics
      arguments: {{edge: "gateway->catalog"}}
"""


def write_experiment(folder: Path, pause_s: float, users: int = 4) -> Path:
    path = folder / f"catalog-slow-{pause_s:g}.yaml"
    path.write_text(EXPERIMENT.format(pause=pause_s, users=users), encoding="utf-8")
    return path


def missing_browser() -> str | None:
    for binary in ("chromium", "chromedriver"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed (apt-get install -y chromium chromium-driver)"
    return None


@contextlib.contextmanager
def chromium(profile_dir: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile; always quit, also when the test fails."""
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.binary_location = shutil.which("chromium") or "chromium"
    driver = webdriver.Chrome(
        options=options, service=Service(executable_path=shutil.which("chromedriver"))
    )
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        yield driver
    finally:
        driver.quit()


@dataclass
class ConsoleRun:
    """`gameday run FILE --console` in a child process, its output read as it comes."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def url(self, timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if match := URL_LINE.search(line):
                return match.group(1)
        raise AssertionError(f"no console URL printed: {''.join(self.output)}")

    def finish(self, timeout_s: float) -> int:
        code = self.process.wait(timeout_s)
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return code


def run_argv(experiment: Path, runs_dir: Path) -> list[str]:
    return ["run", str(experiment), "--console", "--runs-dir", str(runs_dir), "--no-live"]


@contextlib.contextmanager
def console_run(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[ConsoleRun]:
    """`gameday ARGS` (a command with `--console`) with its output read as it comes."""
    process = subprocess.Popen(
        [str(GAMEDAY), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=cwd,
    )
    run = ConsoleRun(process)
    threading.Thread(target=run._pump, daemon=True).start()
    try:
        yield run
    finally:
        if process.poll() is None:
            # SIGTERM first: the run rolls its fault back and closes its console.
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
