"""Port-forwarding to a pod through the Kubernetes API, as a local TCP listener.

`PodPortForward` listens on 127.0.0.1 (an ephemeral port) and opens one API port-forward
(a websocket, the kubernetes client's `portforward`) per accepted connection, copying
bytes both ways. Any HTTP client can then talk to the pod's port, e.g. the Toxiproxy
client to a sidecar's API: `ToxiproxyClient(forward.url)`.

The kubernetes client opens the websocket without a timeout; the handshake is bounded
here by the client timeout (`KubeApi.timeout_s`). A forwarded connection that could not be
opened is closed at once; why is in `failures` (a refused handshake as
`KubernetesForbidden`, naming the RBAC rule to add).
"""

from __future__ import annotations

import json
import select
import socket
import threading
from contextlib import suppress
from typing import Any

import websocket as websocket_client
from kubernetes.stream import portforward

from chaos.k8s import permissions
from chaos.k8s.client import KubeApi
from chaos.k8s.errors import KubernetesError

BUFFER = 65536
POLL_S = 0.2
# websocket-client's default timeout is process-wide; set it only around a handshake.
_handshake_lock = threading.Lock()


class PodPortForward:
    """`with PodPortForward(api, namespace, pod, 8474) as forward: forward.url`"""

    def __init__(self, api: KubeApi, namespace: str, pod: str, port: int) -> None:
        self.api = api
        self.namespace = namespace
        self.pod = pod
        self.port = port
        # Why forwarded connections could not be opened (the caller's client only sees a
        # closed connection), first failure first.
        self.failures: list[KubernetesError] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(POLL_S)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[Any] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(
            target=self._accept, name=f"port-forward {pod}:{port}", daemon=True
        )

    @property
    def local_port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    def __enter__(self) -> PodPortForward:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, close every forwarded connection and wait for the copy threads."""
        self._stop.set()
        # shutdown() wakes a thread blocked in accept() or select() at once; close() alone
        # would leave it waiting for its poll timeout.
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        if self._acceptor.is_alive():
            self._acceptor.join(timeout=2 * POLL_S + 1)
        with suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
            threads, self._threads = self._threads, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()
        for thread in threads:
            thread.join(timeout=2 * POLL_S + 1)

    def _open(self) -> Any:
        """One port-forward session to the pod's port; returns its socket."""
        with _handshake_lock:
            previous = websocket_client.getdefaulttimeout()
            websocket_client.setdefaulttimeout(self.api.timeout_s)
            try:
                session = portforward(
                    self.api.core.connect_get_namespaced_pod_portforward,
                    self.pod,
                    self.namespace,
                    ports=str(self.port),
                )
            finally:
                websocket_client.setdefaulttimeout(previous)
        # The handshake is done; the copy loop below polls, so no read timeout is needed.
        session.websocket.settimeout(None)
        return session

    def _failure(self, exc: Exception) -> KubernetesError:
        """The typed error for a port-forward that could not be opened. The kubernetes
        client wraps a refused websocket handshake in an ApiException with status 0; the
        handshake's own status (401/403) is on the exception it wraps."""
        what = f"port-forward to {self.namespace}/{self.pod}:{self.port}"
        cause = exc.__cause__ or exc.__context__
        status = getattr(cause, "status_code", None)
        if status in (401, 403):
            body = getattr(cause, "resp_body", b"") or b""
            message = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
            return permissions.refusal(
                int(status),
                _server_message(message),
                permissions.PORT_FORWARD,
                self.namespace,
                what,
                self.api.host,
            )
        return KubernetesError(f"{what}: {exc}", int(status or 0))

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                local, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(local,), daemon=True)
            with self._lock:
                self._sockets.append(local)
                self._threads.append(thread)
            thread.start()

    def _serve(self, local: socket.socket) -> None:
        try:
            session = self._open()
        except Exception as exc:  # noqa: BLE001 - any failure closes this connection
            self.failures.append(self._failure(exc))
            with suppress(OSError):
                local.close()
            return
        remote = session.socket(self.port)
        with self._lock:
            self._sockets.append(remote)
        try:
            self._copy(local, remote)
        finally:
            for sock in (local, remote):
                with suppress(OSError):
                    sock.close()
            with suppress(Exception):
                session.close()

    def _copy(self, local: socket.socket, remote: Any) -> None:
        peers = {local.fileno(): remote, remote.fileno(): local}
        sockets = [local, remote]
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select(sockets, [], [], POLL_S)
            except (OSError, ValueError):
                return
            for sock in readable:
                try:
                    data = sock.recv(BUFFER)
                except OSError:
                    return
                if not data:
                    return
                try:
                    peers[sock.fileno()].sendall(data)
                except OSError:
                    return


def _server_message(body: str) -> str:
    """The `message` of the Status the API server sent with a refused handshake."""
    try:
        status = json.loads(body)
    except ValueError:
        return body.strip()
    return str(status.get("message") or body) if isinstance(status, dict) else body
