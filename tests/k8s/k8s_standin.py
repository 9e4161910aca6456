"""An HTTP-level stand-in of the Kubernetes API for the driver tests.

It serves complete objects the way a v1.33 API server writes them (the kubernetes client
validates responses strictly), filters lists by label selector, deletes pods (a ReplicaSet
stand-in replaces deleted pods when `replace_deleted` is on), serves and patches the scale
subresource, and creates and deletes NetworkPolicies. Every request is recorded with its
method, path, query, body and headers so tests can assert exactly what was sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import select
import socket
import struct
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient

NAMESPACE = "gameday-lab"
TOKEN = "stand-in-token"
TS = "2026-11-27T02:00:00Z"
LATER = "2026-11-27T02:05:00Z"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


# -- label selectors (written independently of chaos.safety.k8s_scope) -------------------


def _requirements(selector: str) -> list[str]:
    return [part.strip() for part in re.split(r",(?![^(]*\))", selector) if part.strip()]


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for req in _requirements(selector):
        if m := re.fullmatch(r"(\S+?)\s+(in|notin)\s*\((.*)\)", req):
            values = {v.strip() for v in m[3].split(",")}
            present = m[1] in labels and labels[m[1]] in values
            if present != (m[2] == "in"):
                return False
        elif m := re.fullmatch(r"(\S+?)\s*(!=|==|=)\s*(\S*)", req):
            equal = labels.get(m[1]) == m[3]
            if m[2] == "!=" and equal or m[2] != "!=" and not equal:
                return False
        elif req.startswith("!"):
            if req[1:].strip() in labels:
                return False
        elif req not in labels:
            return False
    return True


# -- realistic objects ----------------------------------------------------------------------


def _uid() -> str:
    return str(uuid.uuid4())


def make_pod(app: str, suffix: str, template_hash: str = "7d9c6b5f4", ready: bool = True) -> dict:
    rs = f"{app}-{template_hash}"
    name = f"{rs}-{suffix}"
    condition = "True" if ready else "False"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "generateName": f"{rs}-",
            "namespace": NAMESPACE,
            "uid": _uid(),
            "resourceVersion": "1201",
            "creationTimestamp": TS,
            "labels": {
                "app.kubernetes.io/name": app,
                "app.kubernetes.io/part-of": "shop",
                "pod-template-hash": template_hash,
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs,
                    "uid": _uid(),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "gameday-shop:0.1.0",
                    "args": ["--service", app],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}},
                    "readinessProbe": {
                        "httpGet": {"path": "/readyz", "port": "http", "scheme": "HTTP"},
                        "timeoutSeconds": 2,
                        "periodSeconds": 5,
                        "successThreshold": 1,
                        "failureThreshold": 3,
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                },
                {
                    "name": "toxiproxy",
                    "image": "ghcr.io/shopify/toxiproxy:2.12.0",
                    "args": ["-host=0.0.0.0", "-config=/etc/toxiproxy/toxiproxy.json"],
                    "ports": [{"name": "toxiproxy-api", "containerPort": 8474, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                },
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "nodeName": "gameday-worker",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": TS}
                for kind, status in (
                    ("PodReadyToStartContainers", "True"),
                    ("Initialized", "True"),
                    ("Ready", condition),
                    ("ContainersReady", condition),
                    ("PodScheduled", "True"),
                )
            ],
            "hostIP": "172.18.0.3",
            "hostIPs": [{"ip": "172.18.0.3"}],
            "podIP": "10.244.1.7",
            "podIPs": [{"ip": "10.244.1.7"}],
            "startTime": TS,
            "containerStatuses": [
                {
                    "name": container,
                    "state": {"running": {"startedAt": TS}},
                    "lastState": {},
                    "ready": ready,
                    "restartCount": 0,
                    "image": image,
                    "imageID": f"{image}@sha256:{'ab' * 32}",
                    "containerID": f"containerd://{'cd' * 32}",
                    "started": True,
                }
                for container, image in (
                    ("app", "docker.io/library/gameday-shop:0.1.0"),
                    ("toxiproxy", "ghcr.io/shopify/toxiproxy:2.12.0"),
                )
            ],
            "qosClass": "Burstable",
        },
    }


def make_deployment(app: str, replicas: int) -> dict:
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": app,
            "namespace": NAMESPACE,
            "uid": _uid(),
            "resourceVersion": "1100",
            "generation": 1,
            "creationTimestamp": TS,
            "labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": app}},
                "spec": {
                    "containers": [{"name": "app", "image": "gameday-shop:0.1.0", "resources": {}}],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {},
    }


@dataclass
class ApiState:
    pods: dict[str, dict] = field(default_factory=dict)
    deployments: dict[str, dict] = field(default_factory=dict)
    policies: dict[str, dict] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    replace_deleted: bool = False
    fail_deletes_after: int | None = None  # 500 on every pod delete after this many
    sidecars: dict[str, tuple[str, int]] = field(default_factory=dict)  # pod -> its API
    lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    def add_app(self, app: str, replicas: int, ready: bool = True) -> None:
        self.deployments[app] = make_deployment(app, replicas)
        for _ in range(replicas):
            self._new_pod(app, ready)
        self.refresh_status(app)

    def _new_pod(self, app: str, ready: bool = True) -> dict:
        self._counter += 1
        pod = make_pod(app, f"p{self._counter:04d}", ready=ready)
        self.pods[pod["metadata"]["name"]] = pod
        return pod

    def app_pods(self, app: str) -> list[dict]:
        return [
            p
            for p in self.pods.values()
            if p["metadata"]["labels"]["app.kubernetes.io/name"] == app
        ]

    def refresh_status(self, app: str) -> None:
        deployment = self.deployments[app]
        pods = self.app_pods(app)
        ready = sum(
            1
            for p in pods
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"]
            )
        )
        want = deployment["spec"]["replicas"]
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": len(pods),
            "updatedReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if ready >= want else "False",
                    "lastUpdateTime": TS,
                    "lastTransitionTime": TS,
                    "reason": "MinimumReplicasAvailable"
                    if ready >= want
                    else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability.",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "lastUpdateTime": TS,
                    "lastTransitionTime": TS,
                    "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{app}-7d9c6b5f4" has successfully progressed.',
                },
            ],
        }
        if not ready:
            del deployment["status"]["readyReplicas"]
            del deployment["status"]["availableReplicas"]

    def scale_to(self, app: str, replicas: int) -> None:
        deployment = self.deployments[app]
        deployment["spec"]["replicas"] = replicas
        deployment["metadata"]["generation"] += 1
        pods = sorted(self.app_pods(app), key=lambda p: p["metadata"]["name"])
        for pod in pods[replicas:]:
            del self.pods[pod["metadata"]["name"]]
        for _ in range(replicas - len(pods)):
            self._new_pod(app)
        self.refresh_status(app)

    def mutating(self) -> list[Recorded]:
        return [r for r in self.requests if r.method not in ("GET", "HEAD")]


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> tuple[int | None, bytes]:
    """One (masked) client frame: (opcode, payload); (None, b"") when the peer closed."""
    head = _recv_exact(sock, 2)
    if head is None:
        return None, b""
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = struct.unpack(">H", _recv_exact(sock, 2) or b"\0\0")[0]
    elif length == 127:
        length = struct.unpack(">Q", _recv_exact(sock, 8) or b"\0" * 8)[0]
    mask = _recv_exact(sock, 4) if head[1] & 0x80 else b"\0\0\0\0"
    payload = _recv_exact(sock, length) if length else b""
    if mask is None or payload is None:
        return None, b""
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _send_frame(sock: socket.socket, payload: bytes, opcode: int = 0x2) -> None:
    """One unmasked server frame."""
    length = len(payload)
    if length < 126:
        head = struct.pack(">BB", 0x80 | opcode, length)
    elif length < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 126, length)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, length)
    sock.sendall(head + payload)


def _status(code: int, reason: str, message: str, name: str = "", kind: str = "") -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
        "details": {"name": name, "kind": kind},
        "code": code,
    }


def _list(kind: str, api_version: str, items: list[dict]) -> dict:
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": "1300"},
        "items": items,
    }


VERSION = {
    "major": "1",
    "minor": "33",
    "emulationMajor": "1",
    "emulationMinor": "33",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "32",
    "gitVersion": "v1.33.1",
    "gitCommit": "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828",
    "gitTreeState": "clean",
    "buildDate": "2025-05-15T08:19:08Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_NS = r"/namespaces/(?P<ns>[a-z0-9-]+)"
CORE = "/api/v1" + _NS
APPS = "/apis/apps/v1" + _NS
NET = "/apis/networking.k8s.io/v1" + _NS


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without this, Nagle and delayed ACKs
    # add ~40 ms to every response.
    disable_nagle_algorithm = True
    state: ApiState

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.state.requests.append(Recorded(self.command, path, query, body, headers))

    def _handle(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        query = parse_qs(url.query, keep_blank_values=True)
        st = self.state
        forward = re.fullmatch(CORE + "/pods/(?P<name>[^/]+)/portforward", url.path)
        if forward and self.headers.get("Upgrade", "").lower() == "websocket":
            with st.lock:
                self._record(url.path, query, body)
                target = st.sidecars.get(forward["name"])
                authorized = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            if not authorized or target is None:
                code = 401 if not authorized else 404
                return self._reply(code, _status(code, "NotFound", "no such pod"))
            return self._portforward(target, int(query["ports"][0]))
        with st.lock:
            self._record(url.path, query, body)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._reply(401, _status(401, "Unauthorized", "Unauthorized"))
            code, reply = self._route(self.command, url.path, query, body)
        self._reply(code, reply)

    def _portforward(self, target: tuple[str, int], port: int) -> None:
        """The websocket port-forward protocol (v4.channel.k8s.io): channel 0 carries data,
        channel 1 errors; the first frame on each channel names the port."""
        self.close_connection = True
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
        self.end_headers()
        self.wfile.flush()
        client = self.connection
        upstream = socket.create_connection(target, timeout=5)
        try:
            port_bytes = struct.pack("<H", port)
            _send_frame(client, b"\x00" + port_bytes)
            _send_frame(client, b"\x01" + port_bytes)
            for _ in range(100_000):  # bounded: one iteration per frame or chunk
                readable, _, _ = select.select([client, upstream], [], [], 10)
                if not readable:
                    return
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    _send_frame(client, b"\x00" + data)
                if client in readable:
                    opcode, payload = _read_frame(client)
                    if opcode == 0x8 or opcode is None:
                        return
                    if opcode == 0x2 and payload[:1] == b"\x00" and len(payload) > 1:
                        upstream.sendall(payload[1:])
        finally:
            upstream.close()

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _handle  # noqa: N815

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, dict]:
        st = self.state
        selector = query.get("labelSelector", [""])[0]
        if path in ("/version", "/version/") and method == "GET":
            return 200, VERSION
        if m := re.fullmatch("/api/v1" + _NS, path):
            if m["ns"] not in (NAMESPACE, "kube-system"):
                return 404, _status(
                    404, "NotFound", f'namespaces "{m["ns"]}" not found', m["ns"], "namespaces"
                )
            return 200, {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {
                    "name": m["ns"],
                    "uid": _uid(),
                    "resourceVersion": "12",
                    "creationTimestamp": TS,
                    "labels": {"kubernetes.io/metadata.name": m["ns"]},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        if (m := re.fullmatch(CORE + "/pods", path)) and method == "GET":
            items = [
                p
                for p in st.pods.values()
                if m["ns"] == NAMESPACE and selector_matches(selector, p["metadata"]["labels"])
            ]
            return 200, _list("PodList", "v1", sorted(items, key=lambda p: p["metadata"]["name"]))
        if m := re.fullmatch(CORE + "/pods/(?P<name>[^/]+)", path):
            pod = st.pods.get(m["name"]) if m["ns"] == NAMESPACE else None
            if pod is None:
                return 404, _status(
                    404, "NotFound", f'pods "{m["name"]}" not found', m["name"], "pods"
                )
            if method == "GET":
                return 200, pod
            if method == "DELETE":
                deletes = sum(1 for r in st.requests if r.method == "DELETE" and "/pods/" in r.path)
                if st.fail_deletes_after is not None and deletes > st.fail_deletes_after:
                    return 500, _status(500, "InternalError", "etcdserver: request timed out")
                del st.pods[m["name"]]
                app = pod["metadata"]["labels"]["app.kubernetes.io/name"]
                if st.replace_deleted:
                    st._new_pod(app)
                if app in st.deployments:
                    st.refresh_status(app)
                gone = json.loads(json.dumps(pod))
                gone["metadata"]["deletionTimestamp"] = LATER
                gone["metadata"]["deletionGracePeriodSeconds"] = 0
                return 200, gone
        if (m := re.fullmatch(APPS + "/deployments", path)) and method == "GET":
            items = [
                d
                for d in st.deployments.values()
                if selector_matches(selector, d["metadata"]["labels"])
            ]
            return 200, _list("DeploymentList", "apps/v1", items)
        if m := re.fullmatch(APPS + "/deployments/(?P<name>[^/]+)(?P<scale>/scale)?", path):
            deployment = st.deployments.get(m["name"]) if m["ns"] == NAMESPACE else None
            if deployment is None:
                return 404, _status(
                    404,
                    "NotFound",
                    f'deployments.apps "{m["name"]}" not found',
                    m["name"],
                    "deployments",
                )
            if not m["scale"]:
                return (
                    (200, deployment)
                    if method == "GET"
                    else (405, _status(405, "MethodNotAllowed", "no"))
                )
            if method == "PATCH":
                if self.headers.get("Content-Type") != "application/merge-patch+json":
                    return 415, _status(415, "UnsupportedMediaType", "expected a merge patch")
                st.scale_to(m["name"], int(body["spec"]["replicas"]))
            elif method != "GET":
                return 405, _status(405, "MethodNotAllowed", "no")
            return 200, {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    "name": m["name"],
                    "namespace": NAMESPACE,
                    "uid": deployment["metadata"]["uid"],
                    "resourceVersion": "1150",
                    "creationTimestamp": TS,
                },
                "spec": {"replicas": deployment["spec"]["replicas"]},
                "status": {
                    "replicas": deployment["status"].get("replicas", 0),
                    "selector": f"app.kubernetes.io/name={m['name']}",
                },
            }
        if m := re.fullmatch(NET + "/networkpolicies", path):
            if method == "GET":
                items = [
                    p
                    for p in st.policies.values()
                    if selector_matches(selector, p["metadata"].get("labels", {}))
                ]
                return 200, _list("NetworkPolicyList", "networking.k8s.io/v1", items)
            if method == "POST":
                name = body["metadata"]["name"]
                if name in st.policies:
                    return 409, _status(
                        409, "AlreadyExists", f'networkpolicies "{name}" already exists'
                    )
                created = json.loads(json.dumps(body))
                created["metadata"].update(
                    {
                        "namespace": m["ns"],
                        "uid": _uid(),
                        "resourceVersion": "1400",
                        "generation": 1,
                        "creationTimestamp": LATER,
                    }
                )
                st.policies[name] = created
                return 201, created
        if m := re.fullmatch(NET + "/networkpolicies/(?P<name>[^/]+)", path):
            policy = st.policies.get(m["name"])
            if policy is None:
                return 404, _status(
                    404,
                    "NotFound",
                    f'networkpolicies.networking.k8s.io "{m["name"]}" not found',
                    m["name"],
                    "networkpolicies",
                )
            if method == "GET":
                return 200, policy
            if method == "DELETE":
                del st.policies[m["name"]]
                return 200, {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": m["name"],
                        "group": "networking.k8s.io",
                        "kind": "networkpolicies",
                        "uid": policy["metadata"]["uid"],
                    },
                }
        return 404, _status(
            404, "NotFound", f"the server could not find the requested resource {path}"
        )


@dataclass
class StandIn:
    url: str
    state: ApiState
    kubeconfig: Path

    def configuration(self, tmp_path: Path, **extra: Any) -> dict[str, Any]:
        return {
            "k8s_kubeconfig": str(self.kubeconfig),
            "k8s_namespaces": [NAMESPACE],
            "k8s_request_timeout_s": 5,
            "gameday_ledger": str(tmp_path / "ledger.jsonl"),
            **extra,
        }


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stand-in", "cluster": {"server": server}}],
                "users": [{"name": "runner", "user": {"token": TOKEN}}],
                "contexts": [
                    {
                        "name": "stand-in",
                        "context": {
                            "cluster": "stand-in",
                            "user": "runner",
                            "namespace": NAMESPACE,
                        },
                    }
                ],
                "current-context": "stand-in",
            }
        )
    )
    return path


@contextmanager
def serve_standin(tmp_path: Path) -> Iterator[StandIn]:
    """Run the stand-in on a loopback port with a kubeconfig naming it; stop it on exit."""
    state = ApiState()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield StandIn(url, state, write_kubeconfig(tmp_path / "kubeconfig", url))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_sidecars(state: ApiState, edges: dict[str, list[str]]) -> Iterator[dict[str, str]]:
    """One Toxiproxy-compatible server per pod of each app in `edges`, carrying that app's
    edges and registered as the pod's sidecar; yields pod -> sidecar API URL."""
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        for app, app_edges in edges.items():
            for pod in state.app_pods(app):
                server = stack.enter_context(EmbeddedProxyServer(host="127.0.0.1", port=0))
                with ToxiproxyClient(server.url) as client:
                    for edge in app_edges:
                        client.create_proxy(edge, upstream="127.0.0.1:9", listen="127.0.0.1:0")
                name = pod["metadata"]["name"]
                host, port = server.url.removeprefix("http://").rsplit(":", 1)
                state.sidecars[name] = (host, int(port))
                urls[name] = server.url
        yield urls
