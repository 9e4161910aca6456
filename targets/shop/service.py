"""Run one replica of a shop service: `python -m chaos.targets.shop.service NAME --config F`.

The launcher does not exec this for every replica: its zygote imports this module once
and forks a replica per call of `serve()` (the same code path), which keeps `mesh up`
fast on small machines. Run it by hand to debug a service on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn

from chaos.targets.shop.config import ServiceConfig
from chaos.targets.shop.services import build_app
from chaos.targets.shop.transport import SERVER_KEEP_ALIVE_S

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is not available on Windows
    uvloop = None  # type: ignore[assignment]

GRACEFUL_SHUTDOWN_S = 2


def bind(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket; `port` 0 picks a free ephemeral port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


async def _serve(server: uvicorn.Server, sock: socket.socket, on_ready: Callable[[], None]) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.005)
    if server.started:
        on_ready()
    await task


def serve(config: ServiceConfig, sock: socket.socket, on_ready: Callable[[], None]) -> None:
    """Serve `config.service` on the listening `sock` until SIGTERM/SIGINT; `on_ready` is
    called once the app's startup (database, clients) finished and it accepts requests.
    Failed requests (5xx) are logged to stderr with their request ID."""
    logging.basicConfig(
        level=logging.WARNING,
        format=f"%(asctime)s {config.service} pid {os.getpid()} %(levelname)s %(message)s",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(config),
            lifespan="on",
            ws="none",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            server_header=False,
            timeout_keep_alive=SERVER_KEEP_ALIVE_S,
        )
    )
    if uvloop is not None:
        uvloop.run(_serve(server, sock, on_ready))
    else:
        asyncio.run(_serve(server, sock, on_ready))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service")
    parser.add_argument("--config", type=Path, required=True, help="the replica's JSON config")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: ephemeral)")
    args = parser.parse_args(argv)
    config = ServiceConfig.read(args.config)
    if config.service != args.service:
        parser.error(f"{args.config} configures {config.service}, not {args.service}")
    sock = bind(args.port)
    port = sock.getsockname()[1]
    serve(config, sock, lambda: print(f"{args.service} ready on 127.0.0.1:{port}", flush=True))


if __name__ == "__main__":
    main()
