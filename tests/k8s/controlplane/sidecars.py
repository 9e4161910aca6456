"""The pods' Toxiproxy sidecars: one EmbeddedProxyServer per pod that has the `toxiproxy`
container of k8s/shop, bound to the pod's own loopback IP, with the proxies the pod's
mounted ConfigMap (toxiproxy.json, as k8s/shop/toxiproxy/SERVICE.json) describes.

Listeners get ephemeral ports rather than the configured ones (two pods on one machine
would collide, and a test may bind only ephemeral ports); `target` maps a pod port as
the pod spec names it (the API's 8474, an edge's 19005) to where it really listens."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient

SIDECAR_CONTAINER = "toxiproxy"
CONFIG_KEY = "toxiproxy.json"
DEFAULT_API_PORT = 8474


@dataclass
class Sidecar:
    server: EmbeddedProxyServer
    api_port: int
    # configured listen port -> (host, port) the proxy really listens on
    listeners: dict[int, tuple[str, int]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def target(self, pod_port: int) -> tuple[str, int] | None:
        if pod_port == self.api_port:
            host, port = self.server.url.removeprefix("http://").rsplit(":", 1)
            return host, int(port)
        return self.listeners.get(pod_port)


def sidecar_container(pod: dict[str, Any]) -> dict[str, Any] | None:
    for container in pod["spec"].get("containers") or []:
        if container["name"] == SIDECAR_CONTAINER:
            return container
    return None


def api_port(container: dict[str, Any]) -> int:
    ports = container.get("ports") or []
    return int(ports[0]["containerPort"]) if ports else DEFAULT_API_PORT


def config_map_name(pod: dict[str, Any], container: dict[str, Any]) -> str | None:
    """The ConfigMap mounted into the sidecar (its -config file lives there)."""
    mounted = {m["name"] for m in container.get("volumeMounts") or []}
    for volume in pod["spec"].get("volumes") or []:
        if volume["name"] in mounted and volume.get("configMap"):
            return str(volume["configMap"]["name"])
    return None


def _listen_port(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


class SidecarFleet:
    """Every running sidecar, by (namespace, pod)."""

    def __init__(self) -> None:
        self._sidecars: dict[tuple[str, str], Sidecar] = {}
        self._lock = threading.Lock()

    def start(
        self, namespace: str, pod: str, pod_ip: str, port: int, proxies: list[dict[str, Any]]
    ) -> Sidecar:
        self.stop(namespace, pod)
        config = [{**proxy, "listen": f"{pod_ip}:0"} for proxy in proxies]
        server = EmbeddedProxyServer(host=pod_ip, port=0, config=config).start()
        sidecar = Sidecar(server, port)
        with ToxiproxyClient(server.url) as client:
            running = client.proxies()
        for proxy in proxies:
            host, real = running[proxy["name"]].listen.rsplit(":", 1)
            sidecar.listeners[_listen_port(proxy["listen"])] = (host, int(real))
        with self._lock:
            self._sidecars[(namespace, pod)] = sidecar
        return sidecar

    def get(self, namespace: str, pod: str) -> Sidecar | None:
        with self._lock:
            return self._sidecars.get((namespace, pod))

    def stop(self, namespace: str, pod: str) -> None:
        with self._lock:
            sidecar = self._sidecars.pop((namespace, pod), None)
        if sidecar is not None:
            sidecar.server.stop()

    def stop_all(self) -> None:
        with self._lock:
            sidecars, self._sidecars = list(self._sidecars.values()), {}
        for sidecar in sidecars:
            sidecar.server.stop()
