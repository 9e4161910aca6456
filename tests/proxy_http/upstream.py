"""A real HTTP/1.1 upstream for HTTP toxic tests: uvicorn serving a small echo app."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every request with what it received: method, path, request id, body digest.

    ``/status/N`` answers with status N; ``/chunked...`` answers with a chunked body.
    """
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    path: str = scope["path"]
    status = int(path.rsplit("/", 1)[1]) if path.startswith("/status/") else 200
    answer = json.dumps(
        {
            "method": scope["method"],
            "path": path,
            "id": headers.get("x-request-id", ""),
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    ).encode()
    headers = [(b"content-type", b"application/json")]
    if path.startswith("/chunked"):
        # No length: uvicorn sends the parts as a chunked body.
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for part in (answer[:5], answer[5:10], answer[10:]):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers.append((b"content-length", str(len(answer)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@contextlib.contextmanager
def serving(app: Any = echo_app, timeout_s: float = 10.0) -> Iterator[str]:
    """Run ``app`` under uvicorn on a loopback port; yields ``127.0.0.1:PORT``."""
    sock = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on {address} in {timeout_s} s")
            time.sleep(0.01)
        yield address
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()


@contextlib.contextmanager
def echo_serving() -> Iterator[str]:
    """A threaded TCP echo server (a protocol that is not HTTP); yields its address."""
    sock = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []

    def echo(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)
        conn.close()

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conns.append(conn)
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        thread.join(5)


@contextlib.contextmanager
def scripted_serving(greeting: bytes, reply: bytes, echo_after: bool = False) -> Iterator[str]:
    """A TCP server that sends ``greeting`` on connect, reads one request head, sends
    ``reply``, echoes what follows if ``echo_after``, and closes; yields its address."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(10)
            if greeting:
                conn.sendall(greeting)
            received = b""
            while b"\r\n\r\n" not in received and (data := conn.recv(65536)):
                received += data
            conn.sendall(reply)
            while echo_after and (data := conn.recv(65536)):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        sock.close()
