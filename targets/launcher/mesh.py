"""`start_mesh()`: run the shop on this machine, every edge through the fault proxy.

    client --> [proxy client->gateway] --> [gateway balancer] --> gateway replicas
    gateway --> [proxy gateway->orders] --> [orders balancer] --> orders replicas --> ...

The calling process owns the mesh: the fault proxy and the balancers run on asyncio
loops in its threads, the zygote and the replicas are its descendants, and
`MeshHandle.stop()` leaves no process or port behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psutil

from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient, ToxiproxyError
from chaos.targets.launcher.balancer import Balancer
from chaos.targets.launcher.errors import (
    MeshFilesUnwritable,
    MeshNotStarted,
    MeshStartError,
    PortInUse,
)
from chaos.targets.launcher.preflight import check_mesh_can_start
from chaos.targets.launcher.prometheus import PrometheusServer, find_prometheus
from chaos.targets.launcher.state import (
    EdgeState,
    MeshNotRunning,
    MeshState,
    ReplicaState,
    ServiceState,
    load_mesh_state,
    write_state,
)
from chaos.targets.launcher.supervisor import Replica, Supervisor, SupervisorError
from chaos.targets.shop.config import EdgeTarget, ServiceConfig
from chaos.targets.shop.topology import PUBLIC_EDGE, Topology, TopologyError, load_topology

__all__ = [
    "MeshAlreadyRunning",
    "MeshFilesUnwritable",
    "MeshHandle",
    "MeshNotStarted",
    "MeshStartError",
    "PortInUse",
    "start_mesh",
]

READY_TIMEOUT_S = 30.0
T = TypeVar("T")


class MeshAlreadyRunning(MeshStartError):
    """A mesh already runs with this state file."""

    def __init__(self, state: MeshState, path: Path) -> None:
        super().__init__(
            f"a mesh is already running (owner pid {state.owner_pid}, state file {path}, "
            f"gateway {state.gateway_url}); stop it with `gameday mesh down`"
        )
        self.state = state


class MeshHandle:
    """A running mesh. `state` is current (pids change on restarts); `stop()` ends it."""

    def __init__(
        self, topology: Topology, state_dir: Path, state_file: Path, prometheus: bool = False
    ) -> None:
        self.topology = topology
        self.state_dir = state_dir
        self.state_file = state_file
        self.started_at = datetime.now(UTC)
        self._proxy: EmbeddedProxyServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._balancers: dict[str, Balancer] = {}
        self._edges: dict[str, EdgeState] = {}
        self._supervisor: Supervisor | None = None
        self._lock = threading.Lock()
        self._publish = False
        self._stopped = False
        self._gateway_url = ""
        self.startup_seconds = 0.0
        self.prometheus = PrometheusServer(state_dir / "prometheus") if prometheus else None

    # -- the loop thread -------------------------------------------------------------

    def _start_loop(self) -> None:
        try:
            import uvloop

            loop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover
            loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="mesh-supervisor", daemon=True
        )
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        assert self._loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    # -- start -----------------------------------------------------------------------

    def _start(self, ready_timeout_s: float) -> None:
        for folder in ("data", "config", "logs"):
            (self.state_dir / folder).mkdir(parents=True, exist_ok=True)
        self._start_loop()
        self._supervisor = Supervisor(self.state_dir, self._replica_changed)
        # The zygote imports the shop while we wire the proxy and the balancers.
        self._run(self._supervisor.start_zygote())
        self._proxy = EmbeddedProxyServer(host="127.0.0.1", port=0).start()
        self._run(self._start_balancers())
        self._create_edges()
        self._write_configs()
        self._run(self._supervisor.wait_loaded())
        self._run(self._spawn_all())
        self._run(self._supervisor.wait_ready(ready_timeout_s))
        if self.prometheus is not None:
            self.prometheus.start(self._scrape_targets())
        self._publish = True
        self._write_state()

    async def _start_balancers(self) -> None:
        for name, spec in self.topology.services.items():
            balancer = Balancer(name)
            await balancer.start(spec.port)
            self._balancers[name] = balancer

    def _create_edges(self) -> None:
        assert self._proxy is not None
        with ToxiproxyClient(self._proxy.url, timeout=5.0) as client:
            for edge in self.topology.edge_names():
                callee = edge.split("->", 1)[1]
                port = self.topology.public_port if edge == PUBLIC_EDGE else 0
                info = client.create_proxy(
                    edge, upstream=self._balancers[callee].address, listen=f"127.0.0.1:{port}"
                )
                self._edges[edge] = EdgeState(listen=info.listen, upstream=info.upstream)
        self._gateway_url = f"http://{self._edges[PUBLIC_EDGE].listen}"

    def _write_configs(self) -> None:
        for name, spec in self.topology.services.items():
            config = ServiceConfig(
                service=name,
                data_dir=str(self.state_dir / "data"),
                rate_limit=spec.rate_limit,
                edges={
                    callee: EdgeTarget(
                        name=f"{name}->{callee}",
                        url=f"http://{self._edges[f'{name}->{callee}'].listen}",
                        policy=self.topology.edges[f"{name}->{callee}"],
                    )
                    for callee in self.topology.callees(name)
                },
            )
            (self._config_path(name)).write_text(config.model_dump_json(indent=2))

    def _config_path(self, service: str) -> Path:
        return self.state_dir / "config" / f"{service}.json"

    async def _spawn_all(self) -> None:
        assert self._supervisor is not None
        for name, spec in self.topology.services.items():
            for index in range(spec.replicas):
                self._supervisor.add(
                    Replica(
                        service=name,
                        index=index,
                        config=self._config_path(name),
                        log=self.state_dir / "logs" / f"{name}-{index}.log",
                    )
                )

    # -- state -----------------------------------------------------------------------

    def _scrape_targets(self) -> list[tuple[str, int, int]]:
        assert self._supervisor is not None
        return [(r.service, r.index, r.port) for r in self._supervisor.replicas]

    def _replica_changed(self, replica: Replica) -> None:
        """Called on the loop thread when a replica's pid, port or readiness changes."""
        balancer = self._balancers.get(replica.service)
        if balancer is not None and self._supervisor is not None:
            balancer.set_ports(
                [r.port for r in self._supervisor.replicas if r.service == replica.service]
            )
        if self._publish and not self._stopped:
            if self.prometheus is not None:
                self.prometheus.write_targets(self._scrape_targets())
            self._write_state()

    @property
    def state(self) -> MeshState:
        supervisor = self._supervisor
        assert supervisor is not None and self._proxy is not None
        owner = psutil.Process(os.getpid())
        return MeshState(
            owner_pid=owner.pid,
            owner_create_time=owner.create_time(),
            started_at=self.started_at,
            state_dir=str(self.state_dir),
            topology=self.topology.source,
            proxy_api=self._proxy.url,
            gateway_url=self._gateway_url,
            services={
                name: ServiceState(
                    address=balancer.address,
                    replicas=[
                        ReplicaState(index=r.index, pid=r.pid, port=r.port, restarts=r.restarts)
                        for r in supervisor.replicas
                        if r.service == name
                    ],
                )
                for name, balancer in self._balancers.items()
            },
            edges=dict(self._edges),
            prometheus_url=self.prometheus.url if self.prometheus is not None else None,
        )

    def replica_ready(self) -> dict[str, list[bool]]:
        """Whether each replica reported ready (since its last start), per service."""
        assert self._supervisor is not None
        ready: dict[str, list[bool]] = {name: [] for name in self.topology.services}
        for replica in self._supervisor.replicas:
            ready[replica.service].append(replica.ready)
        return ready

    def _write_state(self) -> None:
        with self._lock:
            write_state(self.state_file, self.state)

    # -- stop ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every replica, the zygote, the balancers and the proxy; remove the state
        file. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._loop is not None and self._loop.is_running():
            with contextlib.suppress(Exception):
                if self._supervisor is not None:
                    self._run(self._supervisor.stop(), timeout=30)
            for balancer in self._balancers.values():
                with contextlib.suppress(Exception):
                    self._run(balancer.close(), timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        if self._loop is not None and not self._loop.is_running():
            self._loop.close()
        if self._proxy is not None:
            self._proxy.stop()
        if self.prometheus is not None:
            self.prometheus.stop()
        if self._publish:
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()

    def __enter__(self) -> MeshHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_mesh(
    state_dir: Path,
    topology: Path | str | Topology | None = None,
    replicas: Mapping[str, int] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    state_file: Path | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
    prometheus: bool = False,
) -> MeshHandle:
    """Start the shop and block until every replica is ready.

    `topology`: a file (default: the bundled `targets/shop/topology.yaml`) or a loaded
    `Topology`; `overrides` are deep-merged over it (e.g. `{"edges": {"orders->payments":
    {"circuit_breaker": {"enabled": False}}}}`); `replicas` sets replica counts. Data,
    logs and the restart record under `state_dir` start empty. `state_file` (default
    `state_dir/mesh.json`) is written once the mesh is ready and on every restart.
    `prometheus=True` also starts a Prometheus server scraping every replica each second
    (`state.prometheus_url`; its files under `state_dir/prometheus`), stopped with the mesh.

    Raises `TopologyError` for a bad topology, `MeshAlreadyRunning` if the state file
    names a live mesh, `MeshNotStarted` if a port the topology fixes is taken or the state
    folder cannot be written (nothing started), `MeshStartError` if anything fails to start
    (after stopping what did start)."""
    if isinstance(topology, Topology):
        if overrides or replicas:
            raise TopologyError("give overrides and replicas to load_topology() instead")
        loaded = topology
    else:
        loaded = load_topology(topology, overrides, replicas)
    state_dir = Path(state_dir).resolve()
    state_file = Path(state_file) if state_file is not None else state_dir / "mesh.json"
    with contextlib.suppress(MeshNotRunning):
        raise MeshAlreadyRunning(load_mesh_state(state_file), state_file)
    check_mesh_can_start(loaded, state_dir, state_file)
    for folder in ("data", "logs", "config"):
        shutil.rmtree(state_dir / folder, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "supervisor.jsonl").unlink()
    if prometheus:
        find_prometheus()  # a missing binary is refused before anything starts
    handle = MeshHandle(loaded, state_dir, state_file, prometheus=prometheus)
    started = time.monotonic()
    try:
        handle._start(ready_timeout_s)
    except (SupervisorError, ToxiproxyError, OSError, TimeoutError) as exc:
        handle.stop()
        raise MeshStartError(f"the mesh did not start: {exc}") from exc
    except BaseException:
        handle.stop()
        raise
    handle.startup_seconds = time.monotonic() - started
    return handle
