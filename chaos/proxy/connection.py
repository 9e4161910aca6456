"""A proxied TCP connection: the client socket, the upstream socket and two links."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import cast

from chaos.proxy.http.exchange import HttpExchange
from chaos.proxy.link import Link
from chaos.proxy.toxics import ToxicSpec

_LINGER_RESET = struct.pack("ii", 1, 0)
# Reads go into a buffer that starts small (idle connections stay cheap) and grows while
# reads fill it (bulk transfers need few, large reads).
_FIRST_READ = 16 * 1024
_MAX_READ = 256 * 1024


class Side(asyncio.BufferedProtocol):
    """One socket of the connection: source of one link, destination of the other.

    Without toxics, bytes are read into a buffer and written from it, without a copy.
    The buffer is reused: a destination that cannot send everything at once keeps a
    reference to it, but its write-buffer limit of 0 pauses the source until it has sent
    everything, so the next read never lands in bytes still waiting to go out.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._buffer = memoryview(bytearray(_FIRST_READ))
        self.transport: asyncio.Transport | None = None
        self.out_link: Link | None = None
        self.in_link: Link | None = None
        self.closed = False
        self.early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence the cast.
        self.transport = cast(asyncio.Transport, transport)
        # pause_writing as soon as anything is buffered, resume_writing once all is sent.
        self.transport.set_write_buffer_limits(high=0)
        if self is self.conn.client:
            self.conn.client_connected()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        buffer = self._buffer
        link = self.out_link
        if link is not None:
            full = nbytes == len(buffer)
            if link.feed_view(buffer if full else buffer[:nbytes]) and not link.src_paused:
                # The destination kept the buffer without pausing us (not a uvloop or
                # asyncio transport honouring the limit): never overwrite it.
                self._buffer = memoryview(bytearray(len(buffer)))
            elif full and nbytes < _MAX_READ:
                self._buffer = memoryview(bytearray(min(nbytes * 4, _MAX_READ)))
        else:
            # Data that came before the links were wired; kept for them.
            self.early.append(bytes(buffer[:nbytes]))
            if self.transport is not None:
                self.transport.pause_reading()

    def eof_received(self) -> bool:
        # No half-close: the end of one direction closes the whole socket (like Toxiproxy).
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.out_link is not None:
            self.out_link.feed_eof()
        self.conn.side_closed()

    def pause_writing(self) -> None:
        if self.in_link is not None:
            self.in_link.set_dst_paused(True)

    def resume_writing(self) -> None:
        if self.in_link is not None:
            self.in_link.set_dst_paused(False)


class Connection:
    """Accepted client plus dialled upstream; owned by a proxy until both sockets close."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        upstream: str,
        chains: dict[str, list[ToxicSpec]],
        on_done: Callable[[Connection], None],
    ) -> None:
        self.loop = loop
        self.upstream_address = upstream
        self.chains = chains
        self.client = Side(self)
        self.upstream: Side | None = None
        self.links: dict[str, Link] = {}
        self.http: HttpExchange | None = None
        self.on_done = on_done
        self.killed = False
        self._done = False
        self.dialling: asyncio.Task[None] | None = None

    def client_connected(self) -> None:
        assert self.client.transport is not None
        self.client.transport.pause_reading()
        self.dialling = self.loop.create_task(self._dial())

    async def _dial(self) -> None:
        try:
            await self._connect_upstream(self.upstream_address, self.chains)
        finally:
            self.dialling = None

    async def _connect_upstream(self, upstream: str, chains: dict[str, list[ToxicSpec]]) -> None:
        """Connect upstream, then start both links with the toxics of this moment."""
        client_transport = self.client.transport
        assert client_transport is not None
        host, _, port = upstream.rpartition(":")
        host = host[1:-1] if host.startswith("[") else host
        try:
            port_number = int(port)
            _, up = await self.loop.create_connection(
                lambda: Side(self), host or "localhost", port_number
            )
        except (OSError, ValueError):
            # Toxiproxy closes the client at once when the upstream cannot be dialled.
            client_transport.close()
            return
        except asyncio.CancelledError:
            client_transport.abort()
            raise
        self.upstream = up
        if self.killed or self.client.closed:
            if up.transport is not None:
                up.transport.abort()
            client_transport.close()
            return
        self._wire(up, chains)

    def _wire(self, up: Side, chains: dict[str, list[ToxicSpec]]) -> None:
        """Start both links with the toxics of this moment and let data flow."""
        client_transport = self.client.transport
        assert client_transport is not None and up.transport is not None
        upstream_toxics = [t for t in chains["upstream"] if not t.is_http]
        downstream_toxics = [t for t in chains["downstream"] if not t.is_http]
        http_toxics = [t for t in chains["upstream"] + chains["downstream"] if t.is_http]
        if any(t.type == "reset_peer" for t in upstream_toxics + downstream_toxics):
            # Closes become RSTs only for connections accepted while a reset_peer exists,
            # whatever its toxicity (Toxiproxy issue #603).
            for transport in (client_transport, up.transport):
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        uplink = Link(self.loop, "upstream", client_transport, up.transport, upstream_toxics)
        downlink = Link(self.loop, "downstream", up.transport, client_transport, downstream_toxics)
        self.links = {"upstream": uplink, "downstream": downlink}
        self.client.out_link = uplink
        self.client.in_link = downlink
        up.out_link = downlink
        up.in_link = uplink
        if http_toxics:
            self._attach_http(http_toxics, fresh=True)
        for data in self.client.early:
            uplink.feed(data)
        for data in up.early:
            downlink.feed(data)
        self.client.early.clear()
        up.early.clear()
        if up.closed:  # the upstream said its piece and hung up before we were wired
            downlink.feed_eof()
        client_transport.resume_reading()
        up.transport.resume_reading()

    # -- HTTP toxics (only connections of a proxy that has one) ------------------------------

    def add_http_toxic(self, toxic: ToxicSpec) -> None:
        if not self.links:
            return  # still dialling: the toxic is in the chains it will be wired with
        if self.http is not None:
            self.http.add(toxic)
            return
        # A connection that has not carried a byte yet is framed from its first byte.
        fresh = all(link.received == 0 for link in self.links.values())
        self._attach_http([toxic], fresh=fresh)

    def update_http_toxic(self, toxic: ToxicSpec) -> None:
        if self.http is not None:
            self.http.replace(toxic)

    def remove_http_toxic(self, name: str) -> None:
        if self.http is not None:
            self.http.remove(name)

    def _attach_http(self, toxics: list[ToxicSpec], fresh: bool) -> None:
        uplink, downlink = self.links["upstream"], self.links["downstream"]
        exchange = HttpExchange(
            self.loop,
            uplink,
            downlink,
            toxics,
            fresh=fresh,
            reset_client=self._reset_client,
            on_idle=self._detach_http,
        )
        uplink.front, uplink.front_eof = exchange.feed_request_bytes, exchange.feed_request_eof
        downlink.front = exchange.feed_response_bytes
        downlink.front_eof = exchange.feed_response_eof
        self.http = exchange

    def _detach_http(self, exchange: HttpExchange) -> None:
        """The last HTTP toxic is gone and nothing is half-framed: back to plain links."""
        if self.http is not exchange:
            return
        self.http = None
        for link in self.links.values():
            link.front = link.front_eof = None

    def _reset_client(self) -> None:
        """Close the client's socket with a TCP RST (``http_reset``)."""
        transport = self.client.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        self.links["downstream"].forward_eof()

    def _stop_links(self) -> None:
        if self.http is not None:
            self.http.stop()
        for link in self.links.values():
            link.stop()

    def side_closed(self) -> None:
        if self._done:
            return
        if self.client.closed and (self.upstream is None or self.upstream.closed):
            self._done = True
            self._stop_links()
            self.on_done(self)

    def kill(self) -> None:
        """Close both sockets now (proxy disabled or deleted)."""
        self.killed = True
        if self.dialling is not None:
            self.dialling.cancel()
        self._stop_links()
        for side in (self.client, self.upstream):
            if side is not None and side.transport is not None:
                side.transport.abort()
