"""A real Prometheus server scraping the mesh's replicas, owned by the mesh.

It runs Debian's `prometheus` binary on 127.0.0.1 with a config generated here and a data
folder under the mesh's state folder. Replicas are found through `file_sd`: a restart by
the supervisor only rewrites the target file (Prometheus re-reads it on change), never the
config, so the server keeps its history across restarts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

from chaos.targets.launcher.errors import MeshStartError

__all__ = [
    "PROMETHEUS_ENV",
    "PrometheusMissing",
    "PrometheusServer",
    "ScrapeTarget",
    "find_prometheus",
]

PROMETHEUS_ENV = "GAMEDAY_PROMETHEUS"
SCRAPE_INTERVAL_S = 1
READY_TIMEOUT_S = 30.0
PORT_ATTEMPTS = 5

ScrapeTarget = tuple[str, int, int]  # service, replica index, port


class PrometheusMissing(MeshStartError):
    """No `prometheus` binary to run."""


def find_prometheus() -> str:
    """The binary named by env `GAMEDAY_PROMETHEUS`, else `prometheus` on PATH."""
    configured = os.environ.get(PROMETHEUS_ENV)
    found = configured or shutil.which("prometheus")
    if not found or not Path(found).is_file():
        where = f"env {PROMETHEUS_ENV}={configured}" if configured else "none on PATH"
        raise PrometheusMissing(
            f"no prometheus binary ({where}); "
            "install Debian's package with `apt-get install prometheus` or set "
            f"{PROMETHEUS_ENV} to the binary"
        )
    return found


def _free_port() -> int:
    # Prometheus cannot report a port it picked itself, so we pick one and retry on a race.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrometheusServer:
    """One Prometheus process. `start()` blocks until it is ready; `stop()` ends it."""

    def __init__(self, folder: Path, binary: str | None = None) -> None:
        self.folder = Path(folder)
        self.binary = binary or find_prometheus()
        self.targets_file = self.folder / "targets.json"
        self.config_file = self.folder / "prometheus.yml"
        self.log_file = self.folder / "prometheus.log"
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def write_targets(self, targets: Iterable[ScrapeTarget]) -> None:
        """Rewrite the file_sd target list atomically (Prometheus reads it on change)."""
        groups = [
            {
                "targets": [f"127.0.0.1:{port}"],
                "labels": {"service": service, "replica": str(index)},
            }
            for service, index, port in sorted(targets)
            if port
        ]
        tmp = self.targets_file.with_name(f".{self.targets_file.name}.tmp")
        tmp.write_text(json.dumps(groups, indent=2), encoding="utf-8")
        os.replace(tmp, self.targets_file)

    def _write_config(self) -> None:
        # honor_labels: the shop's metrics carry their own `service` label, equal to the
        # target's; without it Prometheus would rename theirs to `exported_service`.
        self.config_file.write_text(
            "global:\n"
            f"  scrape_interval: {SCRAPE_INTERVAL_S}s\n"
            f"  evaluation_interval: {SCRAPE_INTERVAL_S}s\n"
            "scrape_configs:\n"
            "  - job_name: shop\n"
            "    honor_labels: true\n"
            f"    scrape_timeout: {SCRAPE_INTERVAL_S}s\n"
            "    file_sd_configs:\n"
            f"      - files: [{json.dumps(str(self.targets_file))}]\n"
            f"        refresh_interval: {SCRAPE_INTERVAL_S}s\n",
            encoding="utf-8",
        )

    def start(
        self, targets: Iterable[ScrapeTarget], ready_timeout_s: float = READY_TIMEOUT_S
    ) -> None:
        """Write the config and targets, start the server and wait for `/-/ready`.

        Raises `MeshStartError` (with the end of its log) when it does not come up."""
        shutil.rmtree(self.folder, ignore_errors=True)
        (self.folder / "data").mkdir(parents=True)
        self.write_targets(targets)
        self._write_config()
        last = "no attempt"
        for _ in range(PORT_ATTEMPTS):
            port = _free_port()
            if self._launch(port, ready_timeout_s):
                self.url = f"http://127.0.0.1:{port}"
                return
            last = self._log_tail()
            if "address already in use" not in last:
                break
        raise MeshStartError(f"prometheus did not start ({self.log_file}): {last}")

    def _launch(self, port: int, ready_timeout_s: float) -> bool:
        # It runs in a session of its own (a terminal's Ctrl-C is the mesh's to handle);
        # setpriv's parent-death signal still ends it if the mesh's owner is killed.
        guard = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    *guard,
                    self.binary,
                    f"--config.file={self.config_file}",
                    f"--storage.tsdb.path={self.folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1d",
                    "--web.enable-lifecycle",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_timeout_s
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://127.0.0.1:{port}/-/ready").status_code == 200:
                        return True
                time.sleep(0.1)
        self.stop()
        return False

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-3:]) or "no output"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Terminate the server (kill it if it has not exited in 5 s). Idempotent."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
