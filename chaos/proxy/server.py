"""Running the fault proxy: in a daemon thread of the caller, or in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from chaos.proxy.addresses import join_host_port
from chaos.proxy.api import ToxiproxyAPI
from chaos.proxy.collection import PopulateError, ProxyCollection, decode_proxy_config
from chaos.proxy.errors import ToxiproxyError, error_for
from chaos.proxy.link import Link
from chaos.proxy.metrics import ByteCounters
from chaos.proxy.proxy import Proxy

DEFAULT_VERSION = "git"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where available: it roughly halves the per-chunk cost of the data path."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def bind_api(host: str, port: int) -> socket.socket:
    """The API's listening socket (bound in the caller, so errors surface immediately)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class ProxyService:
    """The API app plus its proxies, living on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, version: str = DEFAULT_VERSION) -> None:
        self.counters = ByteCounters()
        self.proxies = ProxyCollection(loop, self._link_ended)
        self.app = ToxiproxyAPI(self.proxies, self.counters, version)

    def _link_ended(self, proxy: Proxy, link: Link) -> None:
        self.counters.count(
            link.direction, proxy.name, proxy.listen, proxy.upstream, link.received, link.sent
        )

    async def load(self, config: Sequence[dict[str, Any]]) -> None:
        """Create the proxies (and their toxics) of a config file's array."""
        configs = [decode_proxy_config(item, f" at proxy {i}") for i, item in enumerate(config, 1)]
        try:
            await self.proxies.populate(configs, with_toxics=True)
        except PopulateError as exc:
            raise error_for(exc.status, exc.message) from exc

    async def serve(self, sock: socket.socket, stop: asyncio.Event | None = None) -> None:
        """Serve the API on ``sock`` until ``stop`` is set (or a signal, in the main thread)."""
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=60,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        watcher = None
        if stop is not None:

            async def watch() -> None:
                await stop.wait()
                server.should_exit = True

            watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await server.serve(sockets=[sock])
        finally:
            if watcher is not None:
                watcher.cancel()
            self.proxies.close()


class EmbeddedProxyServer:
    """A Toxiproxy-compatible server on an asyncio loop in a daemon thread.

    >>> with EmbeddedProxyServer(port=0) as server:
    ...     client = ToxiproxyClient(server.url)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config: Sequence[dict[str, Any]] | None = None,
        version: str = DEFAULT_VERSION,
    ) -> None:
        self.host = host
        self.port = port
        self.config = list(config or [])
        self.version = version
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._bound: tuple[str, int] | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the API (valid after start)."""
        if self._bound is None:
            raise RuntimeError("the proxy server is not started")
        return f"http://{join_host_port(*self._bound)}"

    def start(self, timeout: float = 10.0) -> EmbeddedProxyServer:
        """Bind the API and start serving; raises OSError/ToxiproxyError on failure."""
        if self._thread is not None:
            return self
        sock = bind_api(self.host, self.port)
        self._bound = sock.getsockname()[:2]
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name="fault-proxy", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            self._bound = None
            raise TimeoutError("the fault proxy did not start in time")
        if self._error is not None:
            error = self._error
            self.stop()
            self._bound = None
            raise error
        return self

    def _run(self, sock: socket.socket) -> None:
        loop = self._loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main(sock))
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            sock.close()
            self._ready.set()

    async def _main(self, sock: socket.socket) -> None:
        self._stop = asyncio.Event()
        service = ProxyService(asyncio.get_running_loop(), self.version)
        try:
            await service.load(self.config)
        except (ToxiproxyError, OSError) as exc:
            self._error = exc
            service.proxies.close()
            return
        self._ready.set()
        await service.serve(sock, self._stop)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close every proxy and connection, join the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        self._thread = None
        self._loop = None
        self._stop = None

    def __enter__(self) -> EmbeddedProxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8474,
    config: Sequence[dict[str, Any]] | None = None,
    version: str = DEFAULT_VERSION,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (used by ``gameday proxy serve``).

    ``on_ready`` gets the API's URL once the config's proxies are up.
    """
    sock = bind_api(host, port)
    url = f"http://{join_host_port(*sock.getsockname()[:2])}"
    loop = new_event_loop()
    try:

        async def main() -> None:
            service = ProxyService(asyncio.get_running_loop(), version)
            try:
                await service.load(config or [])
            except BaseException:
                service.proxies.close()
                raise
            # The process is ours alone: move start-up objects out of the collector's
            # reach, so that full collections stay short under traffic (latency tails).
            gc.freeze()
            if on_ready is not None:
                on_ready(url)
            await service.serve(sock)

        loop.run_until_complete(main())
    finally:
        loop.close()
        sock.close()
