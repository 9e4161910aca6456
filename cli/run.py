"""`gameday run`, `validate` and `demo`: experiments from the command line."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from chaos import bundled
from chaos.cli import gates
from chaos.cli.params import MARGIN
from chaos.cli.run_view import LiveView
from chaos.engine import RunOptions, RunResult
from chaos.experiment import ExperimentError, parse_var
from chaos.experiment.extension import gameday_settings
from chaos.safety.dry_run import Plan

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_INVALID = 2
EXIT_ABORTED = 3
EXIT_COULD_NOT_RUN = 4
VERDICT_STYLE = {"held": "green", "deviated": "red", "aborted": "yellow", "could_not_run": "red"}
EXIT_CODES_HELP = (
    "Exit codes: 0 steady state held, 1 deviated, 2 invalid input, "
    "3 aborted (guardrail or interrupt; rolled back), 4 could not run."
)
VAR_HELP = "Override configuration key: key=value or key:type=value (int, float, bool, json)."
VAR_FILE_HELP = "JSON/YAML file with `configuration`/`secrets` mappings, or a .env file."
RUNS_DIR_HELP = "Where run folders are written."
CONSOLE_BIND_HELP = "Address of the console (default 127.0.0.1; any other needs its tokens)."


def console_beside(runs_dir: Path, bind: str, port: int) -> AbstractContextManager[None]:
    from chaos.cli.console import console_beside_run

    return console_beside_run(runs_dir, bind, port)


def _invalid(error: ExperimentError) -> typer.Exit:
    err_console.print("[bold red]invalid experiment[/]")
    for issue in error.issues:
        err_console.print(f"  {issue}", highlight=False, markup=False)
    return typer.Exit(EXIT_INVALID)


def _vars(var: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for text in var:
        try:
            key, value = parse_var(text)
        except ValueError as exc:
            err_console.print(f"[bold red]invalid --var[/]: {exc}", highlight=False)
            raise typer.Exit(EXIT_INVALID) from None
        values[key] = value
    return values


def _print_plan(plan: Plan) -> None:
    console.print(f"[bold]{plan.title}[/] — dry run on target [cyan]{plan.target}[/]")
    if not plan.mesh_running and plan.target in ("local", "mesh"):
        console.print("[dim]no running mesh found: targets resolve when the mesh starts[/]")
    phases = ", ".join(f"{name} {seconds:g} s" for name, seconds in plan.phases)
    console.print(f"phases: {phases} (declared {plan.declared_s:g} s)")
    console.print(
        f"hypothesis every {plan.hypothesis_frequency_s:g} s: {', '.join(plan.hypothesis) or '—'}"
    )
    console.print("[bold]plan[/]")
    for step in plan.steps:
        pause = f" then wait {step.pause_after_s:g} s" if step.pause_after_s else ""
        target = f" on {step.target}" if step.target else ""
        console.print(
            f"  {step.section}: {step.type} {step.name} ({step.call}){target}{pause}",
            highlight=False,
            markup=False,
        )
        for resolved in step.resolved:
            console.print(f"      → {resolved}", highlight=False, markup=False)
    radius = plan.blast_radius
    console.print("[bold]blast radius[/]")
    console.print(f"  edges:    {', '.join(radius.edges) or '—'}")
    console.print(f"  services: {', '.join(radius.services) or '—'}")
    for service, share in radius.replicas.items():
        console.print(f"  replicas: {service} {share}")
    console.print(f"  faults last up to {radius.longest_fault_s:g} s under {radius.users} users")
    console.print(f"guardrails: {', '.join(plan.guardrails) or 'none'}")
    console.print("[dim]nothing was touched[/]")


def _timeline_counts(run_dir: Path) -> str:
    try:
        lines = (run_dir / "timeline.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    events = [json.loads(line) for line in lines if line.strip()]
    checks = [e for e in events if e.get("kind") == "check"]
    failed = sum(1 for e in checks if not e.get("ok"))
    faults = sum(1 for e in events if e.get("kind") == "fault" and e.get("edge") == "start")
    rollbacks = [e for e in events if e.get("kind") == "rollback"]
    bad_rollbacks = sum(1 for e in rollbacks if not e.get("ok"))
    span = events[-1]["ts"] - events[0]["ts"] if events else 0.0
    return (
        f"{len(checks)} checks ({failed} failed), {faults} fault(s), "
        f"{len(rollbacks)} rollback step(s) ({bad_rollbacks} failed), {span:.1f} s"
    )


def _runbook(run_dir: Path) -> str | None:
    try:
        experiment = json.loads((run_dir / "experiment.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    runbook = gameday_settings(experiment).get("runbook")
    return str(runbook) if runbook else None


def _print_summary(result: RunResult) -> None:
    style = VERDICT_STYLE.get(result.verdict, "bold")
    console.print(
        f"[{style}]{result.verdict.upper()}[/] {result.title}: {result.reason}", highlight=False
    )
    if result.run_dir is not None:
        counts = _timeline_counts(result.run_dir)
        if counts:
            console.print(counts, highlight=False)
        console.print(f"run folder: {result.run_dir}", highlight=False)
        runbook = _runbook(result.run_dir)
        if runbook and result.verdict != "held":
            console.print(f"runbook: {runbook}", highlight=False)
    console.print(f"exit code {result.exit_code}", highlight=False)


def _write_reports(result: RunResult) -> None:
    """Render report.md, report.html and junit.xml into the run folder; a failure to render
    is reported but never changes the run's exit code."""
    if result.run_dir is None:
        return
    # Imported here: matplotlib costs the CLI over a second of start-up.
    from chaos.report import ReportError, write_reports

    try:
        written = write_reports(result.run_dir)
    except ReportError as exc:
        err_console.print(f"[yellow]report not written[/]: {exc}", highlight=False)
        return
    for path in written:
        console.print(f"report: {path}", highlight=False)


def _flagship() -> Path:
    found = bundled.experiment("flagship")
    if found is None:  # only a damaged install lacks it
        err_console.print(
            f"[bold red]cannot find the bundled flagship experiment in {bundled.root()}[/]"
        )
        raise typer.Exit(EXIT_COULD_NOT_RUN)
    return found


def _experiment_file(file: Path) -> Path:
    """The file as given, or the bundled experiment of that name (`gameday run flagship`)."""
    if file.exists() or file.suffix or len(file.parts) > 1:
        return file
    return bundled.experiment(file.name) or file


def execute(
    file: Path,
    vars: dict[str, Any],
    var_files: list[Path],
    target: str | None,
    dry_run: bool,
    runs_dir: Path,
    live: bool,
) -> RunResult:
    """Run (or plan) one experiment with the live view; invalid input exits 2."""
    view = LiveView(console, live=live and console.is_terminal)
    options = RunOptions(
        vars=vars,
        var_files=var_files,
        target=target,
        runs_dir=runs_dir,
        dry_run=dry_run,
        observer=None if dry_run else view,
    )
    try:
        from chaos.engine import run_experiment  # chaostoolkit-lib, only when a run starts

        result = run_experiment(file, options)
    except ExperimentError as exc:
        raise _invalid(exc) from None
    except KeyboardInterrupt:
        # Ctrl-C before the engine took over its signals: nothing was started yet.
        err_console.print("[yellow]interrupted before the run started[/]")
        raise typer.Exit(EXIT_ABORTED) from None
    finally:
        view.stop()
    return result


def run_command(
    file: Path = typer.Argument(
        ...,
        help="Experiment file (YAML or JSON), or the name of a bundled experiment: "
        f"{', '.join(bundled.experiment_names())}.",
        callback=_experiment_file,
    ),
    var: list[str] = typer.Option([], "--var", help=VAR_HELP),
    var_file: list[Path] = typer.Option([], "--var-file", help=VAR_FILE_HELP),
    target: str | None = typer.Option(
        None,
        "--target",
        help="local (start the mesh), mesh (a running one), k8s[:CONTEXT] or none; "
        "default: the experiment's `target`, else local.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Resolve targets, print the plan and blast radius; touch nothing."
    ),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help=RUNS_DIR_HELP),
    no_live: bool = typer.Option(
        False, "--no-live", help="Print events as lines instead of the live view."
    ),
    junit: Path | None = typer.Option(None, "--junit", help=gates.JUNIT_HELP),
    baseline: Path | None = typer.Option(None, "--baseline", help=gates.BASELINE_HELP),
    margin: float = typer.Option("20%", "--margin", parser=MARGIN, help=gates.MARGIN_HELP),
    with_console: bool = typer.Option(
        False, "--console", help="Serve the game-day console (a web page) while it runs."
    ),
    console_bind: str = typer.Option("127.0.0.1", "--console-bind", help=CONSOLE_BIND_HELP),
    console_port: int = typer.Option(0, "--console-port", min=0, max=65535, help="Its port."),
) -> None:
    """Run a chaos experiment under load and write a run folder.

    Validates the file, prepares the target, starts load (warm-up, baseline), checks the
    steady state, injects the method's faults while checking the hypothesis continuously,
    lifts the faults, waits the recovery window, checks the steady state again and always
    plays the rollbacks — also on Ctrl-C, SIGTERM and guardrail aborts.
    """
    gate = gates.RunGate.from_options(junit, baseline, margin)
    values = _vars(var)
    served = with_console and not dry_run
    with console_beside(runs_dir, console_bind, console_port) if served else nullcontext():
        result = execute(file, values, list(var_file), target, dry_run, runs_dir, not no_live)
        if result.plan is not None:
            _print_plan(result.plan)
            raise typer.Exit(result.exit_code)
        _print_summary(result)
        _write_reports(result)
        if served and console.is_terminal:
            # The page now links the report; the team may still be reading it.
            console.input("[bold]Press Enter to close the console[/] ")
    raise typer.Exit(gate.finish(result, file, runs_dir))


run_command.__doc__ = f"{run_command.__doc__}\n\n    {EXIT_CODES_HELP}"


def validate_command(
    files: list[Path] = typer.Argument(
        ...,
        help="Experiment files to check, or names of bundled experiments.",
        callback=lambda files: [_experiment_file(file) for file in files],
    ),
    var: list[str] = typer.Option([], "--var", help=VAR_HELP),
    var_file: list[Path] = typer.Option([], "--var-file", help=VAR_FILE_HELP),
) -> None:
    """Validate experiment files without running anything.

    Checks the schema, that every provider module and function exists, that arguments
    match the function signature, tolerances, durations and percentages. A file whose
    target is Kubernetes also gets the checks `gameday run` makes before touching a
    cluster (providers with a Kubernetes equivalent, allow-listed namespaces, no system
    namespace, load.host or k8s_gateway_url), without contacting the cluster. Every
    problem names file, line and field. Exit code 0 when all are valid, 2 otherwise.
    """
    values = _vars(var)
    invalid = 0
    for file in files:
        try:
            from chaos.engine import validate_experiment

            loaded = validate_experiment(file, values, list(var_file))
        except ExperimentError as exc:
            invalid += 1
            err_console.print(f"[red]✗[/] {file}", highlight=False)
            for issue in exc.issues:
                err_console.print(f"  {issue}", highlight=False, markup=False)
            continue
        console.print(f"[green]✓[/] {file}: {loaded.title}", highlight=False)
    if invalid:
        raise typer.Exit(EXIT_INVALID)


def demo_command(
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help=RUNS_DIR_HELP),
    no_live: bool = typer.Option(False, "--no-live", help="Print events as lines."),
) -> None:
    """Start here: the flagship experiment on the local shop under load, and its report.

    Starts the shop as local processes, runs experiments/flagship.yaml (400 ms of latency,
    ±50 ms jitter, on orders->payments for 15 s while checkout must stay healthy; it is
    expected to hold), rolls the fault back, writes the report and the history line, and
    stops the shop: about 40 s. Exit codes as for `gameday run`.
    """
    flagship = _flagship()
    result = execute(flagship, {}, [], "local", False, runs_dir, live=not no_live)
    _print_summary(result)
    _write_reports(result)
    # Like every `gameday run`, the demo's run goes into the history (runs/index.jsonl).
    history = gates.RunGate.from_options(junit=None, baseline=None, margin=0.2)
    raise typer.Exit(history.finish(result, flagship, runs_dir))


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("validate")(validate_command)
    app.command("demo")(demo_command)
