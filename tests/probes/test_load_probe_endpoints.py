"""Which endpoint a load probe means, and what it says when its endpoint has no requests."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaos.load import LoadRunner, LoadSpec
from chaos.probes.errors import NoData
from chaos.probes.load import error_rate, throughput


def _write_samples(load_dir: Path, rows: list[list[object]]) -> None:
    """`samples/local.jsonl` rows: `[end_ts, "METHOD name", latency_ms, error_kind|null]`."""
    samples = load_dir / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    with (samples / "local.jsonl").open("a") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def _traffic(endpoints: dict[str, str | None], seconds: float = 20) -> list[list[object]]:
    """Ten requests a second to each endpoint (with its error kind) up to now."""
    now = time.time()
    return [
        [now - seconds + n / 10, name, 10.0, kind]
        for n in range(int(seconds * 10))
        for name, kind in endpoints.items()
    ]


def test_a_request_name_that_starts_with_its_method_matches_without_the_method_doubled(
    tmp_path: Path,
) -> None:
    # A locustfile naming its requests name="GET /products" records "GET GET /products".
    _write_samples(tmp_path, _traffic({"GET GET /products": "http_500", "POST /checkout": None}))
    rate = error_rate(window_s=5, endpoint="GET /products", load_dir=str(tmp_path))
    assert rate == 1.0
    assert throughput(window_s=5, endpoint="GET /products", load_dir=str(tmp_path)) > 5


def test_an_exact_endpoint_name_wins_over_a_doubled_one(tmp_path: Path) -> None:
    _write_samples(tmp_path, _traffic({"GET /products": None, "GET GET /products": "http_500"}))
    assert error_rate(window_s=5, endpoint="GET /products", load_dir=str(tmp_path)) == 0.0
    assert error_rate(window_s=5, endpoint="GET GET /products", load_dir=str(tmp_path)) == 1.0


def test_no_requests_to_the_endpoint_lists_the_endpoints_the_window_did_have(
    tmp_path: Path,
) -> None:
    _write_samples(tmp_path, _traffic({"GET /products": None, "POST /checkout": None}))
    with pytest.raises(NoData) as raised:
        error_rate(window_s=5, endpoint="GET /product", load_dir=str(tmp_path))
    message = str(raised.value)
    # The window was filled forward while the load ran: it names the seconds it covered.
    assert re.match(r"no requests to GET /product in the \d+ s window, but the load did", message)
    assert "GET /products (" in message and "POST /checkout (" in message
    assert "is the load running" not in message


def test_no_requests_at_all_still_asks_whether_the_load_runs(tmp_path: Path) -> None:
    _write_samples(tmp_path, [[time.time() - 60, "GET /products", 10.0, None]])
    with pytest.raises(NoData, match="no requests to GET /products in the 5 s window: is the"):
        error_rate(window_s=5, endpoint="GET /products", load_dir=str(tmp_path))


LOCUSTFILE = """
from locust import FastHttpUser, constant, task


class NamesWithMethods(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def products(self):
        self.client.get("/products", name="GET /products")
"""


@pytest.fixture
def products_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.slow
def test_a_real_locustfile_naming_requests_with_their_method(
    tmp_path: Path, products_server: str
) -> None:
    locustfile = tmp_path / "named.py"
    locustfile.write_text(LOCUSTFILE)
    out = tmp_path / "load"
    spec = LoadSpec(
        host=products_server,
        locustfile=locustfile,
        output_dir=out,
        users=2,
        spawn_rate=10,
        duration_s=3,
    )
    with LoadRunner(spec) as runner:
        runner.wait_ready(timeout=30)
        assert runner.wait(timeout=30), "a timed run ends on its own"
    assert "GET GET /products" in runner.summary.endpoints
    assert error_rate(window_s=30, endpoint="GET /products", load_dir=str(out)) == 0.0
    assert throughput(window_s=30, endpoint="GET /products", load_dir=str(out)) > 0
