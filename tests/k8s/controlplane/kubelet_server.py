"""The kubelet endpoint of one node, as far as port-forward goes: HTTPS on an ephemeral
port (the node's status.daemonEndpoints.kubeletEndpoint.Port), client certificates from
the cluster CA only (the API server's kubelet client), and

    GET /portForward/{namespace}/{pod}?port=P[&port=Q...]   (websocket, v4.channel.k8s.io
                                                            or v4.base64.channel.k8s.io)

which the API server's upgrade proxy passes through from a client's
pods/portforward. The framing is the kubelet's: per port i, channel 2i carries data and
channel 2i+1 errors; the first frame the server sends on each channel is the port
number (2 bytes, little-endian). Bytes on a data channel go to what listens on that pod
port (here: the pod's sidecar, `Sidecar.target`)."""

from __future__ import annotations

import base64
import contextlib
import re
import select
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from .certs import Pki

# The kubelet's port-forward subprotocols: binary frames, or text frames with the channel as
# a digit and base64 data; no subprotocol at all means binary too.
BINARY = "v4.channel.k8s.io"
BASE64 = "v4.base64.channel.k8s.io"
PATH = re.compile(r"/portForward/(?P<namespace>[^/]+)/(?P<pod>[^/]+)/?")
POLL_S = 0.1
# One session lasts as long as its client keeps it open; bound the loop anyway.
MAX_ROUNDS = 10_000_000
BUFFER = 65536

# (namespace, pod, pod port) -> where that port listens, or None if nothing does.
Resolver = Callable[[str, str, int], tuple[str, int] | None]


class _Handler(socketserver.BaseRequestHandler):
    server: KubeletServer

    def handle(self) -> None:
        conn: ssl.SSLSocket = self.request
        conn.settimeout(10)
        ws = WSConnection(ConnectionType.SERVER)
        request = self._handshake(conn, ws)
        if request is None:
            return
        conn.settimeout(None)
        _Session(conn, ws, *request, server=self.server).run()

    def _handshake(
        self, conn: ssl.SSLSocket, ws: WSConnection
    ) -> tuple[str, str, list[int], bool] | None:
        for _ in range(64):  # a handshake fits in a few reads
            data = conn.recv(BUFFER)
            if not data:
                return None
            try:
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Request):
                        return self._accept(conn, ws, event)
            except RemoteProtocolError:
                conn.sendall(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return None
        return None

    def _accept(
        self, conn: ssl.SSLSocket, ws: WSConnection, request: Request
    ) -> tuple[str, str, list[int], bool] | None:
        url = urlsplit(request.target)
        match = PATH.fullmatch(url.path)
        # The API server passes a client's ports=P,Q on as port=P&port=Q.
        query = parse_qs(url.query)
        ports = [
            int(p)
            for value in query.get("port", []) + query.get("ports", [])
            for p in value.split(",")
        ]
        reason = None
        if match is None:
            reason = 404, f"no such endpoint {url.path}"
        elif not ports:
            reason = 400, f"no ports given in {request.target}"
        elif request.subprotocols and not {BINARY, BASE64} & set(request.subprotocols):
            reason = (
                400,
                f"unsupported subprotocols {request.subprotocols}; "
                f"this node speaks {BINARY} and {BASE64}",
            )
        elif not self.server.has_pod(match["namespace"], match["pod"]):
            reason = 404, f"pod {match['namespace']}/{match['pod']} is not on this node"
        if reason is not None:
            body = reason[1].encode()
            conn.sendall(
                ws.send(
                    RejectConnection(
                        status_code=reason[0],
                        headers=[(b"content-length", str(len(body)).encode())],
                        has_body=True,
                    )
                )
                + body
            )
            return None
        offered = request.subprotocols
        protocol = next((p for p in offered if p in (BINARY, BASE64)), None)
        conn.sendall(ws.send(AcceptConnection(subprotocol=protocol)))
        assert match is not None
        return match["namespace"], match["pod"], ports, protocol == BASE64


class _Session:
    """One port-forward websocket: every requested port, both directions, until either
    side closes."""

    def __init__(
        self,
        conn: ssl.SSLSocket,
        ws: WSConnection,
        namespace: str,
        pod: str,
        ports: list[int],
        base64_frames: bool,
        server: KubeletServer,
    ) -> None:
        self.conn, self.ws, self.server = conn, ws, server
        self.namespace, self.pod, self.ports = namespace, pod, ports
        self.base64_frames = base64_frames
        self.upstreams: dict[int, socket.socket] = {}  # channel index -> pod port socket
        self._message = bytearray()
        self._text: list[str] = []

    def _send(self, channel: int, payload: bytes) -> None:
        if self.base64_frames:
            message = TextMessage(data=str(channel) + base64.b64encode(payload).decode())
            self.conn.sendall(self.ws.send(message))
        else:
            self.conn.sendall(self.ws.send(BytesMessage(data=bytes([channel]) + payload)))

    def _received(self, channel: int, payload: bytes) -> None:
        upstream = self.upstreams.get(channel // 2)
        if channel % 2 == 0 and upstream is not None and payload:
            upstream.sendall(payload)

    def run(self) -> None:
        try:
            for index, port in enumerate(self.ports):
                self._send(2 * index, struct.pack("<H", port))
                self._send(2 * index + 1, struct.pack("<H", port))
                target = self.server.resolve(self.namespace, self.pod, port)
                try:
                    if target is None:
                        raise ConnectionRefusedError("connection refused")
                    self.upstreams[index] = socket.create_connection(target, timeout=5)
                except OSError as exc:
                    self._send(
                        2 * index + 1,
                        f"error forwarding port {port} to pod {self.namespace}/{self.pod}: "
                        f"{exc}".encode(),
                    )
            if self.upstreams:
                self._pump()
        except (OSError, RemoteProtocolError):
            pass
        finally:
            for upstream in self.upstreams.values():
                with contextlib.suppress(OSError):
                    upstream.close()
            with contextlib.suppress(OSError, LocalProtocolError):
                self.conn.sendall(self.ws.send(CloseConnection(code=1000)))

    def _pump(self) -> None:
        channels = {sock: index for index, sock in self.upstreams.items()}
        for _ in range(MAX_ROUNDS):
            if self.server.stopping.is_set():
                return
            readable = {self.conn} if self.conn.pending() else set()
            if not readable:
                ready, _, _ = select.select([self.conn, *channels], [], [], POLL_S)
                readable = set(ready)
            if self.conn in readable and not self._from_client():
                return
            for sock in readable - {self.conn}:
                data = sock.recv(BUFFER)
                if not data:
                    return
                self._send(2 * channels[sock], data)

    def _from_client(self) -> bool:
        """Handle what the client sent; False once it closed."""
        try:
            data = self.conn.recv(BUFFER)
        except ssl.SSLWantReadError:
            return True
        if not data:
            return False
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, CloseConnection):
                return False
            if isinstance(event, Ping):
                self.conn.sendall(self.ws.send(event.response()))
            elif isinstance(event, BytesMessage):
                self._message += event.data
                if event.message_finished:
                    message, self._message = bytes(self._message), bytearray()
                    self._received(message[0], message[1:])
            elif isinstance(event, TextMessage):
                self._text.append(event.data)
                if event.message_finished:
                    text, self._text = "".join(self._text), []
                    self._received(int(text[0]), base64.b64decode(text[1:]))
        return True


class KubeletServer(socketserver.ThreadingTCPServer):
    """`with KubeletServer(pki, has_pod, resolve) as server: server.port`"""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, pki: Pki, has_pod: Callable[[str, str], bool], resolve: Resolver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.has_pod = has_pod
        self.resolve = resolve
        self.stopping = threading.Event()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.kubelet_cert, pki.kubelet_key)
        context.load_verify_locations(pki.ca_cert)
        context.verify_mode = ssl.CERT_REQUIRED  # only the API server may connect
        self._context = context
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def get_request(self) -> tuple[ssl.SSLSocket, object]:
        sock, address = self.socket.accept()
        # The TLS handshake happens in the handler's thread, not the accept loop.
        return self._context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def finish_request(self, request: ssl.SSLSocket, client_address: object) -> None:  # type: ignore[override]
        try:
            request.settimeout(10)
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)

    def start(self) -> KubeletServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
