"""Raw HTTP/1.1 on a socket for tests: build requests byte by byte, read responses (h11)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import h11


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def read_responses(sock: socket.socket, methods: list[str]) -> list[Response]:
    """Read one response per request method from ``sock``, in order."""
    responses: list[Response] = []
    leftover = b""
    for method in methods:
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method=method, target="/", headers=[("host", "t")]))
        conn.send(h11.EndOfMessage())
        if leftover:  # receive_data(b"") would mean EOF
            conn.receive_data(leftover)
        response = Response(0, {}, b"")
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                response.status = event.status_code
                response.headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                response.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise AssertionError("connection closed before a complete response")
        leftover = conn.trailing_data[0]
        responses.append(response)
    return responses
