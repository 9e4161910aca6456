"""The lean httpx transport against a scripted HTTP/1.1 server on loopback."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from chaos.targets.shop.transport import FRESH_CONNECTION, LeanTransport

CONNECTIONS: list[int] = []


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    CONNECTIONS.append(1)
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            break
        lines = head.decode().split("\r\n")
        path = lines[0].split(" ")[1]
        sizes = [int(line.split(":")[1]) for line in lines if line.lower().startswith("content-l")]
        length = sizes[0] if sizes else 0
        body = await reader.readexactly(length)
        if path == "/slow":
            await asyncio.sleep(2)
        if path == "/drop":
            writer.close()
            return
        if path == "/interim":
            # Two interim answers before the final one: 100 Continue, 103 Early Hints.
            writer.write(
                b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal"
            )
        elif path == "/trailers":
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n"
                b"4\r\ndata\r\n0\r\nx-checksum: abc123\r\n\r\n"
            )
        elif lines[0].startswith("HEAD "):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        elif path == "/chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
        else:
            answer = b"echo:" + body + b":" + path.encode()
            writer.write(
                b"HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\ncontent-length: "
                + str(len(answer)).encode()
                + b"\r\n\r\n"
                + answer
            )
        await writer.drain()
    writer.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_requests_reuse_one_connection_and_decode_bodies() -> None:
    async def scenario() -> None:
        CONNECTIONS.clear()
        server = await asyncio.start_server(_handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", transport=LeanTransport(), timeout=5
        ) as client:
            first = await client.post("/a?x=1", json={"n": 1})
            assert first.status_code == 201
            assert first.text == 'echo:{"n":1}:/a?x=1'
            assert first.headers["content-type"] == "text/plain"
            second = await client.get("/chunked")
            assert second.text == "hello world"
            assert CONNECTIONS == [1]  # keep-alive: both on one connection
        server.close()

    asyncio.run(scenario())


def test_failures_map_to_httpx_exceptions() -> None:
    async def scenario() -> None:
        server = await asyncio.start_server(_handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = LeanTransport()
        async with httpx.AsyncClient(transport=transport, timeout=0.3) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{_free_port()}/")
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"http://127.0.0.1:{port}/slow")
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"http://127.0.0.1:{port}/drop")
            # A failed connection is never reused: the next call works.
            assert (await client.get(f"http://127.0.0.1:{port}/ok")).status_code == 201
        server.close()

    asyncio.run(scenario())


def test_fresh_connection_extension_skips_the_pool() -> None:
    async def scenario() -> None:
        CONNECTIONS.clear()
        server = await asyncio.start_server(_handle, "127.0.0.1", 0)
        transport = LeanTransport()
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
        for fresh in (False, False, True):
            request = httpx.Request("GET", url, extensions={FRESH_CONNECTION: fresh})
            assert (await transport.handle_async_request(request)).status_code == 201
        assert len(CONNECTIONS) == 2  # the pooled one reused once, then a new one
        await transport.aclose()
        server.close()

    asyncio.run(scenario())


def test_interim_answers_trailers_and_head_leave_the_connection_in_step() -> None:
    """A 1xx is not the final answer, chunked trailers are read to their end, and a HEAD
    answer's Content-Length announces no body: each next request on the same connection
    still gets its own answer."""

    async def scenario() -> None:
        CONNECTIONS.clear()
        server = await asyncio.start_server(_handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", transport=LeanTransport(), timeout=5
            ) as client:
                interim = await client.get("/interim")
                assert (interim.status_code, interim.text) == (200, "final")
                assert "link" not in interim.headers
                trailers = await client.get("/trailers")
                assert trailers.text == "data"
                assert trailers.extensions["trailers"] == [(b"x-checksum", b"abc123")]
                head = await client.head("/anything")
                assert (head.status_code, head.content) == (200, b"")
                after = await client.post("/after", content=b"x")
                assert (after.status_code, after.text) == (201, "echo:x:/after")
                assert CONNECTIONS == [1]
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())
