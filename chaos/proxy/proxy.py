"""One proxy: a listener, its live connections and its toxics (both streams)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from chaos.proxy import addresses
from chaos.proxy.connection import Connection
from chaos.proxy.errors import NotFound
from chaos.proxy.link import Link
from chaos.proxy.toxics import ToxicSpec

LinkEnded = Callable[["Proxy", Link], None]


class Proxy:
    """A named listener that forwards each accepted connection to ``upstream``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        name: str,
        listen: str,
        upstream: str,
        on_link_end: LinkEnded | None = None,
    ) -> None:
        self.loop = loop
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.chains: dict[str, list[ToxicSpec]] = {"upstream": [], "downstream": []}
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._on_link_end = on_link_end

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind ``listen`` and accept; ``listen`` becomes the bound address."""
        if self.enabled:
            return
        host, port = await addresses.resolve_listen(self.listen)
        sock, bound = addresses.bind(host, port)
        self._server = await self.loop.create_server(self._accept, sock=sock)
        self.listen = bound
        self.enabled = True

    def stop(self) -> None:
        """Close the listener and every live connection; toxics stay configured."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self.enabled = False
        for conn in list(self.connections):
            conn.kill()

    def discard(self) -> None:
        """Stop for good (proxy deleted or replaced)."""
        self.stop()
        for timer in self._expiry.values():
            timer.cancel()
        self._expiry.clear()

    async def differs(self, listen: str, upstream: str) -> bool:
        """Whether a config would need a restart (listen compared after resolving)."""
        if upstream != self.upstream:
            return True
        host, port = await addresses.resolve_listen(listen)
        return self.listen != addresses.resolved_text(host, port)

    def _accept(self) -> Any:
        conn = Connection(self.loop, self.upstream, self.chains, self._connection_done)
        self.connections.add(conn)
        return conn.client

    def _connection_done(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if self._on_link_end is not None:
            for link in conn.links.values():
                self._on_link_end(self, link)

    # -- toxics --------------------------------------------------------------------------

    def toxics(self) -> list[ToxicSpec]:
        return self.chains["upstream"] + self.chains["downstream"]

    def toxic(self, name: str) -> ToxicSpec:
        for toxic in self.toxics():
            if toxic.name == name:
                return toxic
        raise NotFound("toxic not found")

    def add_toxic(self, toxic: ToxicSpec) -> None:
        self.chains[toxic.direction].append(toxic)
        self._arm(toxic)
        if toxic.is_http:
            for conn in list(self.connections):
                conn.add_http_toxic(toxic)
            return
        for link in self._links(toxic.direction):
            link.add_toxic(toxic)

    def update_toxic(self, toxic: ToxicSpec, rearm: bool) -> None:
        """Replace a toxic's values on every live link; ``rearm`` restarts its ttl."""
        chain = self.chains[toxic.direction]
        for i, current in enumerate(chain):
            if current.name == toxic.name:
                chain[i] = toxic
        if rearm:
            self._arm(toxic)
        if toxic.is_http:
            for conn in list(self.connections):
                conn.update_http_toxic(toxic)
            return
        for link in self._links(toxic.direction):
            link.update_toxic(toxic)

    def remove_toxic(self, name: str) -> None:
        toxic = self.toxic(name)
        self.chains[toxic.direction].remove(toxic)
        timer = self._expiry.pop(name, None)
        if timer is not None:
            timer.cancel()
        if toxic.is_http:
            for conn in list(self.connections):
                conn.remove_http_toxic(name)
            return
        # Removing a timeout toxic closes its connections (Toxiproxy's cleanup hook).
        close = toxic.type == "timeout"
        for link in self._links(toxic.direction):
            link.remove_toxic(name, close=close)

    def remove_all_toxics(self) -> None:
        for toxic in self.toxics():
            self.remove_toxic(toxic.name)

    def _arm(self, toxic: ToxicSpec) -> None:
        if toxic.ttl_ms is None:
            return
        old = self._expiry.pop(toxic.name, None)
        if old is not None:
            old.cancel()
        self._expiry[toxic.name] = self.loop.call_later(
            toxic.ttl_ms / 1000, self._expire, toxic.name
        )

    def _expire(self, name: str) -> None:
        self._expiry.pop(name, None)
        with contextlib.suppress(NotFound):
            self.remove_toxic(name)

    def _links(self, direction: str) -> list[Link]:
        return [c.links[direction] for c in self.connections if c.links]

    # -- JSON ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [t.to_json() for t in self.toxics()],
        }
