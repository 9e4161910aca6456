"""Fixtures for the fault proxy: one embedded server per module, echo upstreams, sockets."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient


class EchoServer:
    """A threaded TCP echo server on an ephemeral loopback port."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self._lock = threading.Lock()
        # Bytes read from and written back to the proxy so far: a test waits on them to
        # know where its data is (the proxy's own counters only move when a link ends).
        self.received = 0
        self.echoed = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.conns.append(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                with self._lock:
                    self.received += len(data)
                conn.sendall(data)
                with self._lock:
                    self.echoed += len(data)
        except OSError:
            pass
        finally:
            conn.close()

    def wait(self, what: str, at_least: int, timeout_s: float = 10) -> None:
        """Wait until `received` or `echoed` reaches `at_least` bytes."""
        deadline = time.monotonic() + timeout_s
        while getattr(self, what) < at_least:
            assert time.monotonic() < deadline, f"the echo upstream never {what} {at_least} B"
            time.sleep(0.005)

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with self._lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
        self._thread.join(2)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedProxyServer]:
    srv = EmbeddedProxyServer(port=0)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(server: EmbeddedProxyServer) -> Iterator[ToxiproxyClient]:
    """A client on a clean server: every proxy is deleted after the test."""
    c = ToxiproxyClient(server.url, timeout=5.0)
    try:
        yield c
    finally:
        for name in c.proxies():
            c.delete_proxy(name)
        c.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    srv = EchoServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def connect() -> Iterator[Callable[[int], socket.socket]]:
    """Open loopback client sockets (5 s timeout) that are closed after the test."""
    opened: list[socket.socket] = []

    def _connect(port: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        opened.append(sock)
        return sock

    try:
        yield _connect
    finally:
        for sock in opened:
            sock.close()


def free_port() -> int:
    """A loopback port that was free a moment ago (for tests that need a fixed listen)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            break
        buf += part
    return bytes(buf)
