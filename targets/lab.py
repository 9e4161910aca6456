"""The kind lab: a local Kubernetes cluster running the shop, its Toxiproxy sidecars and
Locust, driven through the `kind`, `docker` and `kubectl` command-line tools.

`up` checks every tool (and that the Docker engine answers) before it creates anything,
creates the cluster from `k8s/kind.yaml`, builds the shop image from `targets/Dockerfile`,
loads it into the cluster's nodes, applies `kubectl apply -k k8s/` and waits until every
deployment is available. If a step fails after this call created the cluster, the cluster
is deleted again: a lab is either up or not there. `down` deletes the cluster; `status`
reports nodes and deployments.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLUSTER_NAME = "gameday"
NAMESPACE = "gameday-lab"
# The tag k8s/ deploys; built locally and loaded into the nodes, never pulled.
IMAGE = "gameday-shop:lab"
TOOLS = ("kind", "docker", "kubectl")
INSTALL_HINTS = {
    "kind": "install kind 0.29 or newer: https://kind.sigs.k8s.io/docs/user/quick-start/"
    "#installation (for example `go install sigs.k8s.io/kind@v0.29.0`)",
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) or Docker "
    "Desktop, and start it",
    "kubectl": "install kubectl: https://kubernetes.io/docs/tasks/tools/",
}
DEFAULT_WAIT_S = 300
# What runs in the shop pods' sidecars -> the kustomization that deploys it.
SIDECAR_MANIFESTS = {"toxiproxy": "k8s", "gameday": "k8s/with-gameday-sidecar"}

Progress = Callable[[str], None]


class LabError(Exception):
    """Base of every lab error."""


class ToolMissing(LabError):
    """A command-line tool the lab needs is not installed (or not on PATH)."""

    def __init__(self, tool: str) -> None:
        super().__init__(f"`{tool}` was not found on PATH; {INSTALL_HINTS[tool]}")
        self.tool = tool


class LabStepFailed(LabError):
    """A tool the lab drives failed; `output` holds the tail of what it printed."""

    def __init__(self, step: str, command: Sequence[str], output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"{step} failed: `{' '.join(command)}`\n{tail}".rstrip())
        self.step = step
        self.command = list(command)
        self.output = output


class CheckoutNotFound(LabError):
    """The k8s manifests and the Dockerfile live in a chaos-gameday source checkout."""


@dataclass
class DeploymentStatus:
    name: str
    desired: int
    available: int

    @property
    def ready(self) -> bool:
        return self.available >= self.desired


@dataclass
class LabStatus:
    cluster: str
    exists: bool
    context: str
    nodes: dict[str, bool] = field(default_factory=dict)
    deployments: list[DeploymentStatus] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return (
            self.exists
            and bool(self.nodes)
            and all(self.nodes.values())
            and bool(self.deployments)
            and all(d.ready for d in self.deployments)
        )


def find_checkout(root: Path | None = None) -> Path:
    """The chaos-gameday checkout holding `k8s/kind.yaml` and `targets/Dockerfile`: exactly
    `root` when given; else the working directory or one of its parents, else the checkout
    this package was installed from (an editable install)."""
    if root is not None:
        candidates = [root.resolve()]
    else:
        here = Path.cwd().resolve()
        candidates = [here, *here.parents, Path(__file__).resolve().parent.parent]
    for candidate in candidates:
        if (candidate / "k8s" / "kind.yaml").is_file() and (
            candidate / "targets" / "Dockerfile"
        ).is_file():
            return candidate
    raise CheckoutNotFound(
        f"no chaos-gameday checkout (with k8s/kind.yaml and targets/Dockerfile) at "
        f"{candidates[0]}; run from a clone of the repository or pass --root"
    )


class Lab:
    """One kind lab cluster named `name`, built from the checkout at `root`."""

    def __init__(
        self,
        root: Path,
        name: str = CLUSTER_NAME,
        image: str = IMAGE,
        wait_s: int = DEFAULT_WAIT_S,
        progress: Progress | None = None,
        sidecar: str = "toxiproxy",
    ) -> None:
        self.root = root
        self.name = name
        self.image = image
        self.wait_s = wait_s
        self.manifests = SIDECAR_MANIFESTS[sidecar]
        self.progress = progress or (lambda message: None)

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    # -- running tools ---------------------------------------------------------------------

    def require(self, tools: Sequence[str] = TOOLS) -> dict[str, str]:
        """The full path of each tool; raises `ToolMissing` for the first one missing."""
        found: dict[str, str] = {}
        for tool in tools:
            path = shutil.which(tool)
            if path is None:
                raise ToolMissing(tool)
            found[tool] = path
        return found

    def _run(self, step: str, command: list[str], timeout_s: float) -> str:
        try:
            completed = subprocess.run(
                command,
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            output = (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else ""
            raise LabStepFailed(
                f"{step} (timed out after {timeout_s:g} s)", command, output
            ) from exc
        except OSError as exc:
            raise LabStepFailed(step, command, str(exc)) from exc
        if completed.returncode != 0:
            raise LabStepFailed(step, command, completed.stderr + completed.stdout)
        return completed.stdout

    def _kubectl(self, *args: str) -> list[str]:
        return ["kubectl", "--context", self.context, *args]

    def cluster_exists(self) -> bool:
        out = self._run("listing kind clusters", ["kind", "get", "clusters"], 60)
        return self.name in out.split()

    # -- the commands ----------------------------------------------------------------------

    def up(self) -> LabStatus:
        """Create (or reuse) the cluster, build and load the image, apply the manifests and
        wait for every deployment; on failure, delete a cluster this call created."""
        self.require()
        self.progress("checking that the Docker engine answers")
        self._run("checking the Docker engine", ["docker", "info", "--format", "{{.ID}}"], 60)
        self.progress(f"rendering {self.manifests}/ with kustomize")
        self._run("rendering the manifests", ["kubectl", "kustomize", self.manifests], 60)
        created = False
        if self.cluster_exists():
            self.progress(f"reusing kind cluster {self.name!r}")
        else:
            self.progress(f"creating kind cluster {self.name!r} (one control plane, two workers)")
            self._run(
                "creating the kind cluster",
                [
                    "kind",
                    "create",
                    "cluster",
                    "--name",
                    self.name,
                    "--config",
                    "k8s/kind.yaml",
                    "--wait",
                    "180s",
                ],
                600,
            )
            created = True
        try:
            self.progress(f"building image {self.image}")
            self._run(
                "building the shop image",
                ["docker", "build", "-f", "targets/Dockerfile", "-t", self.image, "."],
                1200,
            )
            self.progress("loading the image into the cluster's nodes")
            self._run(
                "loading the image into kind",
                ["kind", "load", "docker-image", self.image, "--name", self.name],
                600,
            )
            self.progress(f"applying {self.manifests}/ (kubectl apply -k)")
            self._run("applying the manifests", self._kubectl("apply", "-k", self.manifests), 180)
            self.progress(f"waiting up to {self.wait_s} s for every deployment to be available")
            self._run(
                "waiting for the deployments",
                self._kubectl(
                    "-n",
                    NAMESPACE,
                    "wait",
                    "--for=condition=Available",
                    "deployment",
                    "--all",
                    f"--timeout={self.wait_s}s",
                ),
                self.wait_s + 30,
            )
        except LabError:
            if created:
                self.progress(f"a step failed: deleting cluster {self.name!r} again")
                self._run(
                    "deleting the half-created cluster",
                    ["kind", "delete", "cluster", "--name", self.name],
                    300,
                )
            raise
        return self.status()

    def down(self) -> bool:
        """Delete the cluster; False when there was none."""
        self.require(("kind",))
        if not self.cluster_exists():
            return False
        self.progress(f"deleting kind cluster {self.name!r}")
        self._run("deleting the cluster", ["kind", "delete", "cluster", "--name", self.name], 300)
        return True

    def status(self) -> LabStatus:
        """The cluster's nodes and the lab's deployments."""
        self.require(("kind", "kubectl"))
        status = LabStatus(cluster=self.name, exists=self.cluster_exists(), context=self.context)
        if not status.exists:
            return status
        nodes = json.loads(
            self._run("listing nodes", self._kubectl("get", "nodes", "-o", "json"), 60)
        )
        for node in nodes.get("items", []):
            conditions = node.get("status", {}).get("conditions", [])
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            status.nodes[node["metadata"]["name"]] = ready
        deployments = json.loads(
            self._run(
                "listing deployments",
                self._kubectl("-n", NAMESPACE, "get", "deployments", "-o", "json"),
                60,
            )
        )
        for item in deployments.get("items", []):
            status.deployments.append(
                DeploymentStatus(
                    name=item["metadata"]["name"],
                    desired=int(item.get("spec", {}).get("replicas", 1)),
                    available=int(item.get("status", {}).get("availableReplicas", 0)),
                )
            )
        return status
