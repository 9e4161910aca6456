"""A small HTTP server with known behaviour, for checking what Locust measured."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

LOCUSTFILES = Path(__file__).parent / "locustfiles"


class KnownServer:
    """Paths: /ok 200, /slow 200 after `delay_s`, /err 500, /close drops the connection."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with server._lock:
                    server.seen[self.path] += 1
                if self.path == "/close":
                    self.close_connection = True
                    return
                if self.path == "/slow":
                    time.sleep(server.delay_s)
                status = 500 if self.path == "/err" else 200
                body = b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.seen)


@contextmanager
def serving(httpd: ThreadingHTTPServer) -> Iterator[None]:
    """Serve `httpd` on a thread for the block; shut down and closed even when it fails."""
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def known_server() -> Iterator[KnownServer]:
    server = KnownServer(delay_s=0.2)
    with serving(server.httpd):
        yield server


def locust_processes_for(output_dir: Path) -> list[psutil.Process]:
    """Live processes started for this output folder (their environment names it)."""
    found = []
    marker = str(output_dir)
    for process in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if (
                "gameday_locust.py" in cmdline
                and marker
                in " ".join(process.environ().get(k, "") for k in ("GAMEDAY_LOAD_SAMPLES",))
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
