"""A round-robin TCP balancer per service: the service's stable address, the part a
Kubernetes Service plays. Each accepted connection goes to the next replica; a replica
that refuses the connection (it was killed) is skipped, and only when every replica
refuses is the client's connection closed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

CONNECT_TIMEOUT_S = 1.0
HIGH_WATER = 256 * 1024


class _Pipe(asyncio.Protocol):
    """One direction's receiving end; writes what it receives into `peer`, with flow
    control (a slow reader on one side pauses reading on the other)."""

    def __init__(self, links: set[_Pipe], on_made: Callable[[_Pipe], None] | None = None) -> None:
        self.on_made = on_made
        self.transport: asyncio.Transport | None = None
        self.peer: _Pipe | None = None
        self.pending: list[bytes] = []
        self.closed = False
        self.links = links

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=HIGH_WATER)  # type: ignore[union-attr]
        self.links.add(self)
        if self.on_made is not None:
            self.on_made(self)

    def attach(self, peer: _Pipe) -> None:
        self.peer = peer
        if self.pending and peer.transport is not None:
            peer.transport.write(b"".join(self.pending))
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)

    def eof_received(self) -> bool:
        if self.peer is not None and self.peer.transport is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.peer.transport.write_eof()
        return True  # keep the other direction open (half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.links.discard(self)
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class Balancer:
    """`await Balancer("catalog", [port, ...]).start()` -> "127.0.0.1:P"."""

    def __init__(
        self,
        name: str,
        ports: Sequence[int] = (),
        host: str = "127.0.0.1",
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.host = host
        self.ports: list[int] = list(ports)
        self.connect_timeout_s = connect_timeout_s
        self._next = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Pipe] = set()
        self._dials: set[asyncio.Task] = set()
        self.address = ""

    def set_ports(self, ports: Sequence[int]) -> None:
        self.ports = list(ports)

    async def start(self, port: int = 0) -> str:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._accept, self.host, port, reuse_address=True, backlog=1024
        )
        bound = self._server.sockets[0].getsockname()
        self.address = f"{bound[0]}:{bound[1]}"
        return self.address

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for pipe in list(self._links):
                if pipe.transport is not None:
                    pipe.transport.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    def _accept(self) -> _Pipe:
        return _Pipe(self._links, on_made=self._dial_for)

    def _dial_for(self, client: _Pipe) -> None:
        assert client.transport is not None
        client.transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self._dial(client))
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)

    async def _dial(self, client: _Pipe) -> None:
        loop = asyncio.get_running_loop()
        assert client.transport is not None
        ports = list(self.ports)
        start = self._next
        self._next += 1
        for attempt in range(len(ports)):
            port = ports[(start + attempt) % len(ports)]
            try:
                transport, upstream = await asyncio.wait_for(
                    loop.create_connection(lambda: _Pipe(self._links), self.host, port),
                    self.connect_timeout_s,
                )
            except (OSError, TimeoutError):
                continue  # refused or silent: skip this replica
            if client.closed:
                transport.close()
                return
            client.attach(upstream)
            upstream.attach(client)
            client.transport.resume_reading()
            return
        client.transport.close()
