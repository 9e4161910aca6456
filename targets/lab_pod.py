"""Run one shop service inside a kind lab pod: `python -m chaos.targets.lab_pod SERVICE`.

The image's entrypoint (targets/Dockerfile). It builds the service's config from the
bundled topology (resilience policy per edge) with every callee reached through the pod's
Toxiproxy sidecar on 127.0.0.1 (one listener per edge, `k8s/shop/toxiproxy/*.json`), keeps
its SQLite database in `--data-dir`, and serves on 0.0.0.0 so the Service and the kubelet's
probes reach it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chaos.targets.shop.config import EdgeTarget, ServiceConfig
from chaos.targets.shop.service import bind, serve
from chaos.targets.shop.topology import Topology, load_topology

# The sidecar listener of each callee: the same port in every pod that calls it.
EDGE_PORTS: dict[str, int] = {
    "catalog": 19001,
    "recommendations": 19002,
    "orders": 19003,
    "inventory": 19004,
    "payments": 19005,
    "notifications": 19006,
}
SERVICE_PORT = 8080


def pod_config(service: str, data_dir: Path, topology: Topology) -> ServiceConfig:
    """The service's config with each edge pointing at the pod's sidecar listener."""
    if service not in topology.services:
        raise ValueError(f"unknown service {service!r}; the shop has {sorted(topology.services)}")
    return ServiceConfig(
        service=service,
        data_dir=str(data_dir),
        rate_limit=topology.services[service].rate_limit,
        edges={
            callee: EdgeTarget(
                name=f"{service}->{callee}",
                url=f"http://127.0.0.1:{EDGE_PORTS[callee]}",
                policy=topology.edges[f"{service}->{callee}"],
            )
            for callee in topology.callees(service)
        },
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service")
    parser.add_argument("--host", default="0.0.0.0", help="address to bind [0.0.0.0]")
    parser.add_argument("--port", type=int, default=SERVICE_PORT, help="port [8080]")
    parser.add_argument("--data-dir", type=Path, default=Path("/data"), help="[/data]")
    parser.add_argument("--topology", type=Path, default=None, help="[the bundled one]")
    args = parser.parse_args(argv)
    topology = load_topology(args.topology)
    try:
        config = pod_config(args.service, args.data_dir, topology)
    except ValueError as exc:
        parser.error(str(exc))
    args.data_dir.mkdir(parents=True, exist_ok=True)
    sock = bind(args.port, args.host)
    host, port = sock.getsockname()[:2]
    serve(config, sock, lambda: print(f"{args.service} ready on {host}:{port}", flush=True))


if __name__ == "__main__":
    main()
