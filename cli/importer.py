"""`gameday import`: LitmusChaos and Chaos Mesh manifests as gameday experiment files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from chaos.experiment import ExperimentError
from chaos.importers import ImportResult, ManifestError, NothingToImport, import_manifest, render

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_INVALID = 2
TARGETS = ("k8s", "local", "mesh")


def _print_unmapped(result: ImportResult | NothingToImport, out: Console) -> None:
    for item in result.unmapped:
        out.print(f"  - {item}", highlight=False, markup=False)


def import_command(
    file: Path = typer.Argument(..., help="A LitmusChaos ChaosEngine or Chaos Mesh manifest."),
    output: Path = typer.Option(
        None, "-o", "--output", help="Where to write the experiment (default: FILE.gameday.yaml)."
    ),
    target: str = typer.Option(
        "k8s",
        "--target",
        help="k8s (Kubernetes faults, the manifest's namespaces), local or mesh (the shop: "
        "services named by the selectors' app labels; process and resource faults).",
    ),
) -> None:
    """Turn a LitmusChaos ChaosEngine or Chaos Mesh objects into a gameday experiment.

    Imported: Litmus pod-delete, pod-network-latency, pod-network-loss (100 %),
    pod-network-partition, pod-http-status-code, pod-cpu-hog and node-drain with their
    httpProbe, promProbe and k8sProbe; Chaos Mesh PodChaos, NetworkChaos (delay, partition,
    bandwidth), HTTPChaos, StressChaos (cpu) and Schedule. Every field without an
    equivalent (or with only an approximate one) is listed here and in a comment at the
    top of the written file. The written file is validated as `gameday validate` would.
    Exit code 0 when written and valid, 2 for a manifest (or output) that cannot be used.
    """
    if target not in TARGETS:
        err_console.print(f"[bold red]invalid --target[/]: {target!r}; one of {', '.join(TARGETS)}")
        raise typer.Exit(EXIT_INVALID)
    try:
        result = import_manifest(file, target)  # type: ignore[arg-type]
    except NothingToImport as exc:
        err_console.print(f"[bold red]nothing to import[/]: {escape(str(exc))}", highlight=False)
        _print_unmapped(exc, err_console)
        raise typer.Exit(EXIT_INVALID) from None
    except ManifestError as exc:
        err_console.print(f"[bold red]cannot import[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    out = output or Path(f"{file.stem}.gameday.yaml")
    try:
        out.write_text(render(result), encoding="utf-8")
    except OSError as exc:
        err_console.print(
            f"[bold red]cannot write[/] {escape(str(out))}: {escape(str(exc.strerror or exc))}",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID) from None
    try:
        from chaos.engine import validate_experiment

        validate_experiment(out, {}, [])
    except ExperimentError as exc:
        err_console.print(
            f"[bold red]the imported experiment does not validate[/]: {escape(str(out))}"
        )
        for issue in exc.issues:
            err_console.print(f"  {issue}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    method = result.experiment["method"]
    console.print(
        f"[green]✓[/] {out}: {len(method)} fault step(s) from {', '.join(result.kinds)} "
        f"for target {target}",
        highlight=False,
    )
    if result.unmapped:
        console.print(f"{len(result.unmapped)} field(s) with no or only an approximate equivalent:")
        _print_unmapped(result, console)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
