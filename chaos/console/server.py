"""Serving the console: on a socket bound here, in this process (`gameday console`) or in
a child process beside a run (`gameday run --console`), so the console's work never
competes with the engine's threads and its emergency stop can signal the runner."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from chaos.console.access import ConsoleAccess
from chaos.console.app import create_app
from chaos.console.errors import ConsoleNotStarted

STOP_WAIT_S = 10.0


def bind_socket(host: str, port: int) -> socket.socket:
    """Listen on host:port (0: an ephemeral port); raises `ConsoleNotStarted`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise ConsoleNotStarted(
            f"the console cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    return sock


def console_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(sock: socket.socket, runs_dir: Path, access: ConsoleAccess) -> None:
    """Serve the console on `sock` until SIGINT/SIGTERM (uvicorn's own handlers)."""
    config = uvicorn.Config(
        create_app(runs_dir, access),
        fd=sock.fileno(),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run()


@dataclass
class ConsoleProcess:
    """The console served by a child process on a socket this process bound."""

    url: str
    access: ConsoleAccess
    process: subprocess.Popen[bytes]

    def close(self) -> None:
        """Stop the child; idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_WAIT_S)


def start_console_process(runs_dir: Path, host: str, port: int) -> ConsoleProcess:
    """Bind, then hand the socket to `python -m chaos.console.child`; connections made
    before it accepts wait in the listen queue, so the URL works at once."""
    access = ConsoleAccess(bind=host)
    sock = bind_socket(host, port)
    try:
        url = console_url(sock)
        settings = {
            "fd": sock.fileno(),
            "runs_dir": str(Path(runs_dir).resolve()),
            "bind": host,
            "facilitator_token": access.facilitator_token,
            "observer_token": access.observer_token,
        }
        # Tokens go through a pipe, never the command line other users can read.
        process = subprocess.Popen(
            [sys.executable, "-m", "chaos.console.child"],
            stdin=subprocess.PIPE,
            pass_fds=(sock.fileno(),),
            start_new_session=True,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(settings).encode("utf-8"))
        process.stdin.close()
    except OSError as exc:
        raise ConsoleNotStarted(f"the console process did not start: {exc}") from exc
    finally:
        sock.close()
    return ConsoleProcess(url, access, process)
