"""Our stand-in for kubelets: only what a kubelet does, through the API server, with each
node's own identity (system:node:NAME, so the Node authorizer and NodeRestriction apply).

Per node it registers the Node (Ready, capacity, InternalIP 127.0.0.1, its kubelet port),
renews the node's Lease every 10 s, and watches the pods bound to it: a new pod gets a
pod IP (127.0.0.x), its Toxiproxy sidecar if it has one (`sidecars`), and the status of a
running, ready pod; a pod marked for deletion is finished with a grace-0 delete carrying
its uid as precondition, the way a kubelet confirms that its containers are gone. The
node's kubelet endpoint serves port-forward to those sidecars (`kubelet_server`)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import threading
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import watch

from .certs import Pki
from .kubelet_server import KubeletServer
from .sidecars import CONFIG_KEY, SidecarFleet, api_port, config_map_name, sidecar_container

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_S = 40
LEASE_RENEW_S = 10.0
WATCH_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 10.0
RETRY_PAUSE_S = 0.5
MERGE_PATCH = "application/merge-patch+json"
CAPACITY = {"cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "100Gi"}
# The Node authorizer learns asynchronously which ConfigMaps a freshly bound pod may read.
CONFIG_MAP_ATTEMPTS = 20


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class PodIPs:
    """Pod IPs from 127.0.0.2 up, reused once their pod is gone."""

    def __init__(self) -> None:
        self._next = int(ipaddress.ip_address("127.0.0.2"))
        self._free: list[str] = []
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            if self._free:
                return self._free.pop()
            address = str(ipaddress.ip_address(self._next))
            self._next += 1
            return address

    def give_back(self, address: str) -> None:
        with self._lock:
            self._free.append(address)


class Node:
    """One node: registration, lease, pod lifecycle and its kubelet endpoint."""

    def __init__(
        self, name: str, server: str, pki: Pki, token: str, ips: PodIPs, fleet: SidecarFleet
    ) -> None:
        self.name = name
        self.ips = ips
        self.fleet = fleet
        configuration = k8s.Configuration()
        configuration.host = server
        configuration.ssl_ca_cert = str(pki.ca_cert)
        configuration.api_key = {"authorization": f"Bearer {token}"}
        configuration.connection_pool_maxsize = 8
        self.api_client = k8s.ApiClient(configuration)
        self.core = k8s.CoreV1Api(self.api_client)
        self.leases = k8s.CoordinationV1Api(self.api_client)
        self.kubelet = KubeletServer(pki, self._has_pod, self._resolve)
        self.stopping = threading.Event()
        # (namespace, pod) -> (uid, pod IP) of the pods this node runs
        self.pods: dict[tuple[str, str], tuple[str, str]] = {}
        self._pods_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._renew_lease, name=f"{name} lease", daemon=True),
            threading.Thread(target=self._watch_pods, name=f"{name} pods", daemon=True),
        ]

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.kubelet.start()
        self._register()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.kubelet.stop()
        # The lease thread wakes on the event; the pod watch ends when the API server stops
        # (its threads are daemons), so it is not waited for here.
        self._threads[0].join(timeout=1)
        with self._pods_lock:
            pods, self.pods = list(self.pods), {}
        for namespace, pod in pods:
            self.fleet.stop(namespace, pod)
        self.api_client.close()

    # -- the node and its lease --------------------------------------------------------

    def _register(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": {
                    "kubernetes.io/hostname": self.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
        }
        self.core.create_node(node, _request_timeout=REQUEST_TIMEOUT_S)
        now = _now()
        conditions = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID"),
            ("Ready", "True", "KubeletReady"),
        ]
        status = {
            "capacity": CAPACITY,
            "allocatable": CAPACITY,
            "conditions": [
                {
                    "type": kind,
                    "status": value,
                    "reason": reason,
                    "message": f"node agent: {reason}",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
                for kind, value, reason in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet.port}},
            "nodeInfo": {
                "machineID": self.name,
                "systemUUID": self.name,
                "bootID": self.name,
                "kernelVersion": "node-agent",
                "osImage": "chaos-gameday node agent",
                "containerRuntimeVersion": "node-agent://0",
                "kubeletVersion": "v1.20.2",
                "kubeProxyVersion": "v1.20.2",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
        self.core.patch_node_status(
            self.name,
            {"status": status},
            _content_type=MERGE_PATCH,
            _request_timeout=REQUEST_TIMEOUT_S,
        )
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE},
            "spec": {
                "holderIdentity": self.name,
                "leaseDurationSeconds": LEASE_DURATION_S,
                "renewTime": _micro_now(),
            },
        }
        self.leases.create_namespaced_lease(
            LEASE_NAMESPACE, lease, _request_timeout=REQUEST_TIMEOUT_S
        )

    def _renew_lease(self) -> None:
        while not self.stopping.wait(LEASE_RENEW_S):
            try:
                self.leases.patch_namespaced_lease(
                    self.name,
                    LEASE_NAMESPACE,
                    {"spec": {"renewTime": _micro_now()}},
                    _content_type=MERGE_PATCH,
                    _request_timeout=REQUEST_TIMEOUT_S,
                )
            except (k8s.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                log.warning("%s: lease renewal failed: %s", self.name, exc)

    # -- pods --------------------------------------------------------------------------

    def _watch_pods(self) -> None:
        selector = f"spec.nodeName={self.name}"
        resource_version = ""
        while not self.stopping.is_set():
            try:
                if not resource_version:
                    listing = self.core.list_pod_for_all_namespaces(
                        field_selector=selector, _request_timeout=REQUEST_TIMEOUT_S
                    )
                    for pod in listing.items:
                        self._sync(self.api_client.sanitize_for_serialization(pod))
                    resource_version = listing.metadata.resource_version
                stream = watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces,
                    field_selector=selector,
                    resource_version=resource_version,
                    timeout_seconds=WATCH_TIMEOUT_S,
                    allow_watch_bookmarks=True,
                    _request_timeout=(REQUEST_TIMEOUT_S, WATCH_TIMEOUT_S + 5),
                )
                for event in stream:
                    if self.stopping.is_set():
                        return
                    pod = event["raw_object"]
                    resource_version = pod["metadata"]["resourceVersion"]
                    if event["type"] == "DELETED":
                        self._forget(pod)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        self._sync(pod)
            except k8s.ApiException as exc:
                if exc.status == 410:  # the watch's resourceVersion is too old: list again
                    resource_version = ""
                    continue
                log.warning("%s: pod watch: %s", self.name, exc)
                self.stopping.wait(RETRY_PAUSE_S)
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                if not self.stopping.is_set():
                    log.warning("%s: pod watch: %s", self.name, exc)
                self.stopping.wait(RETRY_PAUSE_S)

    def _sync(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if meta.get("deletionTimestamp"):
            self._finish_deletion(pod)
            return
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        with self._pods_lock:
            known = self.pods.get(key)
        if known is not None and known[0] == meta["uid"]:
            return
        ip = self.ips.take()
        try:
            self._start_sidecar(pod, ip)
            self._report_running(pod, ip)
        except (k8s.ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            # As a kubelet would leave it in ContainerCreating; the next event retries.
            log.warning("%s: pod %s/%s not started: %s", self.name, *key, exc)
            self.fleet.stop(*key)
            self.ips.give_back(ip)
            return
        with self._pods_lock:
            self.pods[key] = (meta["uid"], ip)

    def _start_sidecar(self, pod: dict[str, Any], ip: str) -> None:
        container = sidecar_container(pod)
        if container is None:
            return
        namespace = pod["metadata"]["namespace"]
        proxies: list[dict[str, Any]] = []
        name = config_map_name(pod, container)
        if name is not None:
            proxies = self._read_sidecar_config(namespace, name)
        self.fleet.start(namespace, pod["metadata"]["name"], ip, api_port(container), proxies)

    def _read_sidecar_config(self, namespace: str, name: str) -> list[dict[str, Any]]:
        for attempt in range(CONFIG_MAP_ATTEMPTS):
            try:
                config_map = self.core.read_namespaced_config_map(
                    name, namespace, _request_timeout=REQUEST_TIMEOUT_S
                )
                return list(json.loads((config_map.data or {}).get(CONFIG_KEY, "[]")))
            except k8s.ApiException as exc:
                if exc.status != 403 or attempt == CONFIG_MAP_ATTEMPTS - 1:
                    raise
                self.stopping.wait(0.1)
        return []

    def _report_running(self, pod: dict[str, Any], ip: str) -> None:
        now = _now()
        spec = pod["spec"]
        condition_types = ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        status = {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "conditions": [
                {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                for kind in condition_types
            ],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "image": c["image"],
                    "imageID": f"node-agent://{c['image']}",
                    "containerID": f"node-agent://{pod['metadata']['uid']}/{c['name']}",
                    "state": {"running": {"startedAt": now}},
                }
                for c in spec["containers"]
            ],
        }
        self.core.patch_namespaced_pod_status(
            pod["metadata"]["name"],
            pod["metadata"]["namespace"],
            {"status": status},
            _content_type=MERGE_PATCH,
            _request_timeout=REQUEST_TIMEOUT_S,
        )

    def _finish_deletion(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        self._forget(pod)
        try:
            self.core.delete_namespaced_pod(
                meta["name"],
                meta["namespace"],
                body=k8s.V1DeleteOptions(
                    grace_period_seconds=0, preconditions=k8s.V1Preconditions(uid=meta["uid"])
                ),
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        except k8s.ApiException as exc:
            if exc.status not in (404, 409):  # gone already, or a newer pod of that name
                log.warning("%s: delete %s/%s: %s", self.name, meta["namespace"], meta["name"], exc)

    def _forget(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        with self._pods_lock:
            known = self.pods.get(key)
            if known is None or known[0] != meta["uid"]:
                return
            del self.pods[key]
        self.fleet.stop(*key)
        self.ips.give_back(known[1])

    # -- port-forward ------------------------------------------------------------------

    def _has_pod(self, namespace: str, pod: str) -> bool:
        with self._pods_lock:
            return (namespace, pod) in self.pods

    def _resolve(self, namespace: str, pod: str, port: int) -> tuple[str, int] | None:
        sidecar = self.fleet.get(namespace, pod)
        return sidecar.target(port) if sidecar is not None else None


class NodeAgent:
    """All nodes of one control plane, sharing the pod IP range and the sidecar fleet."""

    def __init__(self, server: str, pki: Pki, node_tokens: dict[str, str]) -> None:
        self.fleet = SidecarFleet()
        ips = PodIPs()
        self.nodes = [
            Node(name, server, pki, token, ips, self.fleet) for name, token in node_tokens.items()
        ]

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    def stop(self) -> None:
        for node in self.nodes:
            node.stopping.set()
        for node in self.nodes:
            node.stop()
        self.fleet.stop_all()

    def sidecar_url(self, namespace: str, pod: str) -> str:
        sidecar = self.fleet.get(namespace, pod)
        if sidecar is None:
            raise LookupError(f"pod {namespace}/{pod} has no running sidecar")
        return sidecar.url
