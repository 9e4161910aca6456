"""The round-robin balancer: spreads connections, skips refusing replicas, closes the
client's connection only when every replica refuses."""

from __future__ import annotations

import asyncio
import socket

from chaos.targets.launcher.balancer import Balancer


async def _named_server(name: bytes) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(100)
        writer.write(name + b":" + data)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _ask(address: str) -> bytes:
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"hi")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(100), 5)
    except ConnectionResetError:
        answer = b""  # closed with our request unread: the kernel answers with a reset
    writer.close()
    return answer


def test_round_robin_and_skipping_a_dead_replica() -> None:
    async def scenario() -> None:
        a, b = await _named_server(b"a"), await _named_server(b"b")
        ports = [s.sockets[0].getsockname()[1] for s in (a, b)]
        balancer = Balancer("svc", ports)
        address = await balancer.start()
        try:
            answers = [await _ask(address) for _ in range(4)]
            assert sorted(answers) == [b"a:hi", b"a:hi", b"b:hi", b"b:hi"]
            assert answers[0] != answers[1]  # alternates
            a.close()
            await a.wait_closed()
            answers = [await _ask(address) for _ in range(4)]
            assert answers == [b"b:hi"] * 4  # the refusing replica is skipped
            balancer.set_ports([_free_port(), ports[1]])
            assert await _ask(address) == b"b:hi"
        finally:
            await balancer.close()
            b.close()

    asyncio.run(scenario())


def test_every_replica_refusing_closes_the_client() -> None:
    async def scenario() -> None:
        balancer = Balancer("svc", [_free_port(), _free_port()])
        address = await balancer.start()
        try:
            assert await _ask(address) == b""  # closed without an answer
        finally:
            await balancer.close()

    asyncio.run(scenario())


def test_large_transfer_passes_intact() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB: exercises flow control

    async def scenario() -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        balancer = Balancer("svc", [server.sockets[0].getsockname()[1]])
        host, port = (await balancer.start()).rsplit(":", 1)
        try:
            reader, writer = await asyncio.open_connection(host, int(port))

            async def send() -> None:
                writer.write(payload)
                await writer.drain()
                writer.write_eof()

            sender = asyncio.create_task(send())
            received = await asyncio.wait_for(reader.read(-1), 20)
            await sender
            writer.close()
            assert received == payload
        finally:
            await balancer.close()
            server.close()

    asyncio.run(scenario())
