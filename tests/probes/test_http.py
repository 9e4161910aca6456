"""HTTP probes against a real local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from chaos.probes.errors import InvalidProbeArgument, ProbeError, ProbeUnreachable
from chaos.probes.http import http_json, http_latency_ms, http_ok, http_status


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        url = urlparse(self.path)
        if url.path.startswith("/status/"):
            self._send(int(url.path.rsplit("/", 1)[1]), {})
        elif url.path.startswith("/sleep/"):
            time.sleep(float(url.path.rsplit("/", 1)[1]) / 1000)
            self._send(200, {})
        elif url.path == "/product":
            self._send(200, {"id": 1, "recommendations_source": "fallback"})
        elif url.path == "/text":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"hi")
        else:
            self._send(404, {})

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"null")
        self._send(201 if body == {"x": 1} else 400, {})


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_http_status_and_ok(server: str) -> None:
    assert http_status(f"{server}/status/200") == 200
    assert http_status(f"{server}/status/503") == 503
    assert http_status(f"{server}/x", method="POST", body={"x": 1}) == 201
    assert http_ok(f"{server}/status/200") is True
    assert http_ok(f"{server}/status/503") is False
    assert http_ok(f"{server}/status/503", expect_status=[200, 503]) is True


def test_http_json_returns_the_body(server: str) -> None:
    assert http_json(f"{server}/product")["recommendations_source"] == "fallback"
    with pytest.raises(ProbeError, match="not JSON"):
        http_json(f"{server}/text")


def test_http_latency_measures_the_delay(server: str) -> None:
    assert http_latency_ms(f"{server}/sleep/300") >= 300
    assert http_ok(f"{server}/sleep/300", max_latency_ms=100) is False


def test_http_timeout_is_enforced(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(ProbeUnreachable, match="no response within 0.3 s"):
        http_status(f"{server}/sleep/3000", timeout_s=0.3)
    assert time.monotonic() - started < 2.9
    assert http_ok(f"{server}/sleep/3000", timeout_s=0.3) is False


def test_http_unreachable_and_misuse(server: str) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as closed:
        dead_port = closed.server_address[1]
    with pytest.raises(ProbeUnreachable):
        http_status(f"http://127.0.0.1:{dead_port}/")
    with pytest.raises(InvalidProbeArgument, match="url must start with"):
        http_status("127.0.0.1/healthz")
    with pytest.raises(InvalidProbeArgument, match="timeout_s"):
        http_status(f"{server}/status/200", timeout_s=0)
