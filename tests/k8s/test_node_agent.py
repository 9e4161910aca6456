"""The node agent as a client of the real API server sees it: nodes that register and
stay Ready, pods run with their own IPs, and the kubelet port-forward endpoint in both of
the kubelet's websocket framings, reached through the API server as the runner."""

from __future__ import annotations

import base64
import ssl
import struct
from pathlib import Path

import httpx
import pytest
import websocket
import yaml

from tests.k8s.controlplane.controlplane import ControlPlane
from tests.k8s.controlplane.lab import LabNamespace

REQUEST = b"GET /version HTTP/1.0\r\nHost: sidecar\r\n\r\n"


def test_nodes_are_ready_with_their_kubelet_endpoint(control_plane: ControlPlane) -> None:
    nodes = control_plane.admin.as_dicts(control_plane.admin.core.list_node().items)
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(control_plane.nodes)
    for node in nodes:
        status = node["status"]
        assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
        assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0
        ready = [c for c in status["conditions"] if c["type"] == "Ready"]
        assert [c["status"] for c in ready] == ["True"]
        assert not node["spec"].get("taints")


def test_pods_run_on_both_nodes_with_distinct_pod_ips(lab_namespace: LabNamespace) -> None:
    lab_namespace.deploy("catalog", 6)
    pods = lab_namespace.pods("catalog")
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == 6 and all(ip.startswith("127.0.") for ip in ips)
    assert {p["spec"]["nodeName"] for p in pods} == set(lab_namespace.plane.nodes)
    assert all(p["status"]["phase"] == "Running" for p in pods)


def _open(lab: LabNamespace, pod: str, port: int, protocol: str) -> websocket.WebSocket:
    """A port-forward websocket through the API server, as the runner."""
    kubeconfig = yaml.safe_load(Path(lab.kubeconfig).read_text())
    token = kubeconfig["users"][0]["user"]["token"]
    cluster = kubeconfig["clusters"][0]["cluster"]
    url = cluster["server"].replace("https://", "wss://")
    return websocket.create_connection(
        f"{url}/api/v1/namespaces/{lab.name}/pods/{pod}/portforward?ports={port}",
        header=[f"Authorization: Bearer {token}"],
        subprotocols=[protocol],
        sslopt={"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": cluster["certificate-authority"]},
        timeout=10,
    )


def _frames(ws: websocket.WebSocket, decode: bool, limit: int) -> list[tuple[int, bytes]]:
    """(channel, payload) of the frames the node sent, until it closed (at most limit)."""
    frames = []
    for _ in range(limit):
        try:
            opcode, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        if decode:
            frames.append((int(chr(data[0])), base64.b64decode(data[1:])))
        else:
            frames.append((data[0], data[1:]))
    return frames


@pytest.mark.parametrize(
    ("protocol", "encoded"), [("v4.channel.k8s.io", False), ("v4.base64.channel.k8s.io", True)]
)
def test_port_forward_reaches_the_pods_sidecar_in_either_framing(
    lab_namespace: LabNamespace, protocol: str, encoded: bool
) -> None:
    lab = lab_namespace
    lab.deploy("orders", 1, sidecar=True)
    (pod,) = lab.pod_names("orders")
    direct = httpx.get(f"{lab.plane.sidecar_url(lab.name, pod)}/version", timeout=10).text

    ws = _open(lab, pod, 8474, protocol)
    try:
        assert ws.subprotocol == protocol
        if encoded:
            ws.send("0" + base64.b64encode(REQUEST).decode())
        else:
            ws.send_binary(b"\x00" + REQUEST)
        frames = _frames(ws, encoded, 50)
    finally:
        ws.close()

    port = struct.pack("<H", 8474)
    assert frames[:2] == [(0, port), (1, port)]  # each channel first names its port
    response = b"".join(data for channel, data in frames[2:] if channel == 0)
    assert response.startswith(b"HTTP/1.")
    assert response.endswith(direct.encode())


def test_port_forward_to_a_port_nothing_listens_on_reports_on_the_error_channel(
    lab_namespace: LabNamespace,
) -> None:
    lab = lab_namespace
    lab.deploy("orders", 1, sidecar=True)
    (pod,) = lab.pod_names("orders")
    ws = _open(lab, pod, 9999, "v4.channel.k8s.io")
    try:
        frames = _frames(ws, False, 10)
    finally:
        ws.close()
    errors = b"".join(data for channel, data in frames[2:] if channel == 1).decode()
    assert f"error forwarding port 9999 to pod {lab.name}/{pod}" in errors
