"""`gameday lab up|down|status`: the kind lab cluster (wraps kind, docker and kubectl)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from chaos.targets.lab import (
    CLUSTER_NAME,
    DEFAULT_WAIT_S,
    IMAGE,
    NAMESPACE,
    SIDECAR_MANIFESTS,
    CheckoutNotFound,
    Lab,
    LabStatus,
    LabStepFailed,
    ToolMissing,
    find_checkout,
)

app = typer.Typer(
    help=(
        "A local Kubernetes lab on kind: the shop with Toxiproxy sidecars and Locust in "
        f"namespace {NAMESPACE}. Needs kind, docker (with a running engine) and kubectl."
    ),
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True, soft_wrap=True)

EXIT_BAD_INPUT = 2
EXIT_COULD_NOT_RUN = 4

NAME = typer.Option(CLUSTER_NAME, "--name", help="kind cluster name (context kind-NAME).")
ROOT = typer.Option(
    None,
    "--root",
    help="chaos-gameday checkout holding k8s/ and targets/Dockerfile "
    "[default: the working directory or a parent of it].",
)


# What the shop pods' fault sidecars run: one choice per kustomization that deploys it.
Sidecar = StrEnum("Sidecar", {name: name for name in SIDECAR_MANIFESTS})


def _lab(
    name: str,
    root: Path | None,
    image: str = IMAGE,
    wait_s: int = DEFAULT_WAIT_S,
    sidecar: str = "toxiproxy",
    checkout_needed: bool = True,
) -> Lab:
    try:
        checkout = find_checkout(root)
    except CheckoutNotFound as exc:
        if checkout_needed:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from exc
        # Only kind and kubectl are called: they need no checkout (e.g. after a wheel install).
        checkout = Path.cwd()
    return Lab(checkout, name=name, image=image, wait_s=wait_s, progress=_progress, sidecar=sidecar)


def _progress(message: str) -> None:
    console.print(f"[dim]·[/] {message}")


def _fail(exc: ToolMissing | LabStepFailed) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(EXIT_BAD_INPUT if isinstance(exc, ToolMissing) else EXIT_COULD_NOT_RUN)


def _print_status(status: LabStatus) -> None:
    if not status.exists:
        console.print(f"kind cluster [bold]{status.cluster}[/] does not exist")
        return
    table = Table(title=f"kind cluster {status.cluster} (context {status.context})")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("ready")
    for node, ready in sorted(status.nodes.items()):
        table.add_row("node", node, "yes" if ready else "[red]no[/]")
    for deployment in status.deployments:
        mark = "" if deployment.ready else "[red]"
        table.add_row(
            "deployment",
            f"{NAMESPACE}/{deployment.name}",
            f"{mark}{deployment.available}/{deployment.desired}",
        )
    console.print(table)
    console.print("lab ready" if status.ready else "[yellow]lab not ready[/]")


@app.command(
    help=(
        "Create the kind cluster (one control plane, two workers) from k8s/kind.yaml, "
        "build the shop image from targets/Dockerfile, load it into the nodes, apply k8s/ "
        "(k8s/with-gameday-sidecar with --sidecar gameday) "
        "and wait until every deployment is available. Reuses an existing cluster of the "
        "same name. Every tool is checked before anything is created; if a later step "
        "fails, a cluster this command created is deleted again. Exit 2 when a tool is "
        "missing, 4 when a step fails."
    )
)
def up(
    name: str = NAME,
    root: Path | None = ROOT,
    image: str = typer.Option(IMAGE, "--image", help="Tag of the shop image to build and load."),
    wait: int = typer.Option(
        DEFAULT_WAIT_S, "--wait", min=10, help="Seconds to wait for every deployment."
    ),
    sidecar: Sidecar = typer.Option(
        Sidecar("toxiproxy"),
        "--sidecar",
        help="What the shop pods' fault sidecars run: the official Toxiproxy (k8s/), or "
        "the shop image's `gameday proxy serve` (k8s/with-gameday-sidecar), which also "
        "takes HTTP faults; experiments then set configuration k8s_sidecar: gameday.",
    ),
) -> None:
    lab = _lab(name, root, image, wait, sidecar.value)
    try:
        status = lab.up()
    except (ToolMissing, LabStepFailed) as exc:
        raise _fail(exc) from exc
    _print_status(status)
    console.print(
        f"next: kubectl --context {lab.context} -n {NAMESPACE} get pods; "
        f"gameday run EXPERIMENT --target k8s:{lab.context}"
    )


@app.command(
    help=("Delete the kind cluster and everything in it (exit 0 also when it did not exist).")
)
def down(name: str = NAME, root: Path | None = ROOT) -> None:
    lab = _lab(name, root, checkout_needed=False)
    try:
        deleted = lab.down()
    except (ToolMissing, LabStepFailed) as exc:
        raise _fail(exc) from exc
    console.print(f"deleted kind cluster {name}" if deleted else f"no kind cluster {name}")


@app.command(
    help=(
        "Show the cluster's nodes and the lab's deployments (available/desired replicas). "
        "Exit 0 when everything is ready, 1 when not (or the cluster does not exist)."
    )
)
def status(name: str = NAME, root: Path | None = ROOT) -> None:
    lab = _lab(name, root, checkout_needed=False)
    try:
        result = lab.status()
    except (ToolMissing, LabStepFailed) as exc:
        raise _fail(exc) from exc
    _print_status(result)
    if not result.ready:
        raise typer.Exit(1)
