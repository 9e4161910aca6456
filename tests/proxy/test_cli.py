"""`gameday proxy serve` as a subprocess on an ephemeral port."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.proxy import ToxiproxyClient

from .conftest import listening, recv_exactly
from .serving import Serve, proxy_servers


@pytest.fixture
def serve() -> Iterator[Serve]:
    with proxy_servers() as started:
        yield started


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_loads_config_with_toxics_and_stops_cleanly(
    serve, tmp_path, echo, connect, stop_signal
):
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps(
            [
                {
                    "name": "echo",
                    "listen": "127.0.0.1:0",
                    "upstream": echo.address,
                    "toxics": [
                        {"type": "latency", "attributes": {"latency": 200}},
                        {"type": "noop", "stream": "upstream", "ttl_ms": 60000},
                    ],
                },
                {
                    "name": "off",
                    "listen": "127.0.0.1:0",
                    "upstream": echo.address,
                    "enabled": False,
                },
            ]
        )
    )
    proc, url = serve("--config", str(config))
    with ToxiproxyClient(url) as client:
        proxies = client.proxies()
        assert sorted(proxies) == ["echo", "off"]
        assert [t.name for t in proxies["echo"].toxics] == ["noop_upstream", "latency_downstream"]
        assert proxies["off"].enabled is False
        sock = connect(proxies["echo"].listen_port)
        started = time.monotonic()
        sock.sendall(b"hi")
        assert recv_exactly(sock, 2) == b"hi"
        assert time.monotonic() - started >= 0.2
        port = proxies["echo"].listen_port
    proc.send_signal(stop_signal)
    assert proc.wait(10) == 0
    assert not listening(port)


@pytest.mark.parametrize(
    "content, expected",
    [
        ("[{", "line 1 column 3"),
        ('{"name": "x"}', "expected a JSON array"),
        ('[{"name": "x", "listen": "127.0.0.1:0"}]', "missing required field: upstream"),
        (
            '[{"name": "x", "upstream": "127.0.0.1:1", '
            '"toxics": [{"type": "latency", "attributes": {"latency": -5}}]}]',
            "toxics[0]: invalid attribute latency",
        ),
    ],
)
def test_bad_config_exits_2_with_a_located_message(tmp_path, content, expected):
    config = tmp_path / "proxies.json"
    config.write_text(content)
    result = CliRunner().invoke(app, ["proxy", "serve", "--port", "0", "--config", str(config)])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert str(Path(config).name) in message and expected in message
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_busy_api_port_exits_4_naming_the_port() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(app, ["proxy", "serve", "--port", str(port)])
    finally:
        holder.close()
    assert result.exit_code == 4
    message = " ".join(result.stderr.split())
    assert f"cannot serve the API on 127.0.0.1:{port}: Address already in use" in message
    assert result.exception is None or isinstance(result.exception, SystemExit)
