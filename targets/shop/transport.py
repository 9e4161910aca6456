"""A lean HTTP/1.1 keep-alive transport for httpx, for the shop's loopback calls.

httpx's default stack (httpcore, anyio, h11) costs about 1 ms of CPU per call on our
2-core machines, fifteen times what the bytes on the wire cost; the gateway makes three
such calls per product page and was the mesh's bottleneck. This transport keeps httpx's
API, timeouts and exception types (so the resilience code is unchanged) and speaks plain
HTTP/1.1 over asyncio streams, pooling idle connections per host.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httptools
import httpx

MAX_IDLE_PER_HOST = 64
# Idle connections are dropped well before the services' keep-alive timeout
# (`SERVER_KEEP_ALIVE_S`), so a request never races the server closing its connection.
IDLE_FOR_S = 30.0
SERVER_KEEP_ALIVE_S = 60
# Request extension: True sends the request on a new connection, not a pooled one.
FRESH_CONNECTION = "shop.fresh_connection"


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        return (
            now - self.idle_since < IDLE_FOR_S
            and not self.writer.is_closing()
            and not self.reader.at_eof()
        )

    def close(self) -> None:
        self.writer.close()


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def _connect(self, host: str, port: int, timeout: float | None) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=1 << 20), timeout
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connect to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"connect to {host}:{port}: {exc}") from exc
        return _Connection(reader, writer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        host = request.url.host
        port = request.url.port or 80
        key = (host, port)
        body = await request.aread()
        head = _head(request, body)
        idle = self._idle.setdefault(key, [])
        now = time.monotonic()
        connection = None
        while idle and not request.extensions.get(FRESH_CONNECTION):
            candidate = idle.pop()
            if candidate.usable(now):
                connection = candidate
                break
            candidate.close()
        if connection is None:
            connection = await self._connect(host, port, timeouts.get("connect"))
        return await self._exchange(connection, key, head + body, request, timeouts)

    async def _exchange(
        self,
        connection: _Connection,
        key: tuple[str, int],
        payload: bytes,
        request: httpx.Request,
        timeouts: dict,
    ) -> httpx.Response:
        try:
            connection.writer.write(payload)
            response = await asyncio.wait_for(
                _read_response(connection.reader, request.method), timeouts.get("read")
            )
        except TimeoutError as exc:
            connection.close()
            raise httpx.ReadTimeout(f"no answer from {key[0]}:{key[1]} in time") from exc
        except asyncio.IncompleteReadError as exc:
            connection.close()
            raise httpx.RemoteProtocolError("the server closed the connection") from exc
        except (OSError, ValueError, httptools.HttpParserError) as exc:
            connection.close()
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc
        status, headers, content, trailers, keep_alive = response
        if keep_alive and len(self._idle[key]) < MAX_IDLE_PER_HOST:
            connection.idle_since = time.monotonic()
            self._idle[key].append(connection)
        else:
            connection.close()
        extensions = {"trailers": trailers} if trailers else {}
        return httpx.Response(
            status, headers=headers, content=content, request=request, extensions=extensions
        )

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                with contextlib.suppress(Exception):
                    connection.close()
        self._idle.clear()


def _head(request: httpx.Request, body: bytes) -> bytes:
    target = request.url.raw_path
    lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
    has_length = False
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower == b"content-length":
            has_length = True
        if lower == b"transfer-encoding":
            continue  # the body is sent whole, with its length
        lines.append(name + b": " + value)
    if body and not has_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


class _ResponseReader:
    """httptools' response parser callbacks: the final response's status, headers, body and
    chunked trailers. Interim (1xx) responses are skipped, as HTTP/1.1 requires."""

    def __init__(self, method: str) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.method = method
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.trailers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.done = False
        self.chunked = False
        self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.headers_done:
            self.trailers.append((name, value))
        elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            self.chunked = True  # httpx gets the decoded body
        else:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # reset once the message ends
        self.headers_done = True
        # The parser cannot know a HEAD response has no body; we do.
        if self.method == "HEAD" and not 100 <= self.status < 200:
            self.done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            self.headers, self.body, self.headers_done, self.chunked = [], [], False, False
            return
        self.done = True

    def body_runs_to_eof(self) -> bool:
        """No length and not chunked: the body is everything up to the server's close."""
        names = {name.lower() for name, _ in self.headers}
        return self.headers_done and not self.chunked and b"content-length" not in names


async def _read_response(
    reader: asyncio.StreamReader, method: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes, list[tuple[bytes, bytes]], bool]:
    """(status, headers, body, trailers, keep-alive) of the final response to `method`."""
    response = _ResponseReader(method)
    while not response.done:
        data = await reader.read(1 << 16)
        if not data:
            if response.body_runs_to_eof():
                return response.status, response.headers, b"".join(response.body), [], False
            raise asyncio.IncompleteReadError(b"", None)
        response.parser.feed_data(data)
    body = b"".join(response.body)
    return response.status, response.headers, body, response.trailers, response.keep_alive
