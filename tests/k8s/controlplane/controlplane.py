"""A real Kubernetes control plane on loopback, owned by one object (envtest's shape):
etcd, kube-apiserver, kube-controller-manager and kube-scheduler from the build cache,
plus our node agent in place of kubelets.

    plane = ControlPlane()
    plane.start()          # nodes Ready, taints lifted
    try:
        plane.kubectl("get", "nodes")
    finally:
        plane.stop()       # every process gone, the run directory removed

Each start gets a fresh PKI, a fresh etcd data directory and free ephemeral ports; stop()
is safe after a failed or partial start."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from . import components
from .assets import ControlPlaneError, find_binaries
from .certs import Pki, generate_pki
from .identities import (
    ADMIN_USER,
    StaticUser,
    node_name,
    static_users,
    write_audit_policy,
    write_kubeconfig,
    write_token_file,
)
from .node_agent import NodeAgent
from .processes import ManagedProcess, sweep_leftovers

RUNS_ROOT = Path(tempfile.gettempdir()) / "chaos-gameday-k8s"
START_ATTEMPTS = 3
READY_TIMEOUT_S = 90.0


class AdminApi:
    """The kubernetes client as the admin, for test setup and assertions."""

    def __init__(self, kubeconfig: Path) -> None:
        self.client = k8s_config.new_client_from_config(config_file=str(kubeconfig))
        self.core = k8s.CoreV1Api(self.client)
        self.apps = k8s.AppsV1Api(self.client)
        self.networking = k8s.NetworkingV1Api(self.client)

    def as_dicts(self, objects: list[Any]) -> list[dict[str, Any]]:
        """Client models as the API's JSON (camelCase keys)."""
        return [self.client.sanitize_for_serialization(o) for o in objects]

    def close(self) -> None:
        self.client.close()


class KubectlFailed(ControlPlaneError):
    """A kubectl command exited non-zero."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ControlPlane:
    """etcd + API server + controller-manager + scheduler + node agent, on 127.0.0.1."""

    def __init__(self, node_count: int = 2, assets: Path | None = None) -> None:
        self.node_count = node_count
        self.binaries = find_binaries(assets)
        self.nodes = [node_name(i) for i in range(node_count)]
        self.server = ""
        self.run_dir: Path | None = None
        self.admin_kubeconfig = Path()
        self.pki: Pki | None = None
        self.agent: NodeAgent | None = None
        self._admin: AdminApi | None = None
        self._audit: list[dict] = []
        self._audit_offset = 0
        self._processes: list[ManagedProcess] = []
        self._users: dict[str, StaticUser] = {}

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> ControlPlane:
        """Start everything and wait until the nodes are Ready and schedulable; on any
        failure everything started so far is stopped before the error is raised."""
        sweep_leftovers(RUNS_ROOT)
        try:
            for attempt in range(1, START_ATTEMPTS + 1):
                try:
                    self._start_once()
                    return self
                except _PortTaken:
                    # Another process took a port between choosing and binding it.
                    self._stop_agent()
                    self._stop_processes()
                    if attempt == START_ATTEMPTS:
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the node agent and every process, then remove the run directory."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        self._stop_agent()
        self._stop_processes()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _stop_agent(self) -> None:
        if self.agent is not None:
            self.agent.stop()
            self.agent = None

    def _stop_processes(self) -> None:
        # Newest first: the scheduler and controllers before the API server, etcd last.
        for process in reversed(self._processes):
            process.stop()
        self._processes = []

    def _start_once(self) -> None:
        RUNS_ROOT.mkdir(parents=True, exist_ok=True)
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=RUNS_ROOT))
            (self.run_dir / "owner").write_text(str(os.getpid()))
            self.pki = generate_pki(self.run_dir / "pki")
            users = static_users(self.node_count)
            self._users = {u.name: u for u in users}
            write_token_file(self.run_dir / "tokens.csv", users)
            write_audit_policy(self.run_dir / "audit-policy.yaml", self.node_count)
        etcd_port, etcd_peer_port, api_port = _free_port(), _free_port(), _free_port()
        self.server = f"https://127.0.0.1:{api_port}"
        self.admin_kubeconfig = self._kubeconfig("admin", ADMIN_USER)
        data_dir = self.run_dir / "etcd-data"
        shutil.rmtree(data_dir, ignore_errors=True)
        self._spawn(
            "etcd", components.etcd(self.binaries["etcd"], data_dir, etcd_port, etcd_peer_port)
        )
        self._spawn(
            "kube-apiserver",
            components.apiserver(
                self.binaries["kube-apiserver"], self.run_dir, self.pki, api_port, etcd_port
            ),
        )
        self._wait_ready()
        self._start_controllers()
        self.agent = NodeAgent(
            self.server,
            self.pki,
            {name: self._users[f"system:node:{name}"].token for name in self.nodes},
        )
        self.agent.start()
        self._wait_nodes_schedulable()

    def _kubeconfig(self, name: str, user: str) -> Path:
        assert self.run_dir is not None and self.pki is not None
        return write_kubeconfig(
            self.run_dir / f"{name}.kubeconfig",
            self.server,
            self.pki.ca_cert,
            self._users[user].token,
        )

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        assert self.run_dir is not None
        process = ManagedProcess(name, argv, self.run_dir / f"{name}.log", self.run_dir)
        self._processes.append(process)
        return process

    def _start_controllers(self) -> None:
        assert self.pki is not None
        manager = self._kubeconfig("controller-manager", "system:kube-controller-manager")
        self._spawn(
            "kube-controller-manager",
            components.controller_manager(
                self.binaries["kube-controller-manager"], manager, self.pki
            ),
        )
        scheduler = self._kubeconfig("scheduler", "system:kube-scheduler")
        self._spawn(
            "kube-scheduler", components.scheduler(self.binaries["kube-scheduler"], scheduler)
        )

    def _check_processes(self) -> None:
        for process in self._processes:
            if not process.running():
                tail = process.log_tail()
                if "address already in use" in tail:
                    raise _PortTaken(process.name)
                raise ControlPlaneError(
                    f"{process.name} exited with code {process.popen.returncode} "
                    f"(log: {process.log_path}):\n{tail}"
                )

    def _wait_ready(self) -> None:
        assert self.pki is not None
        token = self._users[ADMIN_USER].token
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(self.pki.ca_cert)),
            headers={"Authorization": f"Bearer {token}"},
            timeout=2.0,
        ) as http:
            while time.monotonic() < deadline:
                self._check_processes()
                try:
                    response = http.get(f"{self.server}/readyz")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:300]}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.1)
        raise ControlPlaneError(
            f"kube-apiserver at {self.server} not ready within {READY_TIMEOUT_S:g} s ({last})"
        )

    def _wait_nodes_schedulable(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        state = "no node registered"
        while time.monotonic() < deadline:
            self._check_processes()
            listing = self.admin.core.list_node(_request_timeout=10)
            nodes = self.admin.as_dicts(listing.items)
            ready = [
                n["metadata"]["name"]
                for n in nodes
                if not n["spec"].get("taints")
                and any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in n.get("status", {}).get("conditions", [])
                )
            ]
            if sorted(ready) == sorted(self.nodes):
                return
            state = f"schedulable: {ready or 'none'} of {self.nodes}"
            time.sleep(0.2)
        raise ControlPlaneError(f"nodes not schedulable within {READY_TIMEOUT_S:g} s ({state})")

    # -- what tests use ----------------------------------------------------------------

    @property
    def admin(self) -> AdminApi:
        if self._admin is None:
            self._admin = AdminApi(self.admin_kubeconfig)
        return self._admin

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        check: bool = True,
        input: str | None = None,  # noqa: A002 - subprocess.run's name
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this control plane (as the admin unless told otherwise)."""
        command = ["kubectl", "--kubeconfig", str(kubeconfig or self.admin_kubeconfig), *args]
        result = subprocess.run(
            command, input=input, capture_output=True, text=True, timeout=180, check=False
        )
        if check and result.returncode != 0:
            raise KubectlFailed(
                f"{' '.join(command[3:])} exited {result.returncode}: {result.stderr.strip()}"
            )
        return result

    def audit_events(self, since: float | None = None) -> list[dict]:
        """The audit log's events (what clients asked, at Metadata level), oldest first;
        with since (a time.time() value), only requests received at or after it."""
        assert self.run_dir is not None
        path = self.run_dir / "audit.log"
        if path.exists():
            with path.open("rb") as log:
                log.seek(self._audit_offset)
                chunk = log.read()
            # Only whole lines: the API server may be writing the next one.
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._audit_offset += len(complete)
            self._audit.extend(json.loads(line) for line in complete.splitlines() if line)
        if since is None:
            return list(self._audit)
        return [
            e
            for e in self._audit
            if datetime.datetime.fromisoformat(e["requestReceivedTimestamp"]).timestamp() >= since
        ]

    def sidecar_url(self, namespace: str, pod: str) -> str:
        """The Toxiproxy API of that pod's sidecar, reached directly (not through the
        API server), for assertions."""
        if self.agent is None:
            raise ControlPlaneError("the control plane is not started")
        return self.agent.sidecar_url(namespace, pod)

    def service_account_kubeconfig(
        self, namespace: str, service_account: str, path: Path, expiration_s: int = 86400
    ) -> Path:
        """A kubeconfig acting as that ServiceAccount, through a TokenRequest token."""
        assert self.pki is not None
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": expiration_s},
        }
        created = self.kubectl(
            "create",
            "--raw",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
            "-f",
            "-",
            input=json.dumps(request),
        )
        token = json.loads(created.stdout)["status"]["token"]
        return write_kubeconfig(path, self.server, self.pki.ca_cert, token, namespace)


class _PortTaken(ControlPlaneError):
    """A process could not bind the port chosen for it."""
