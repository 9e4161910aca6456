"""`gameday incident new`: scaffold an experiment and a runbook from an incident's facts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from chaos.cli.params import DURATION, parse_duration
from chaos.incident import FAULT_KINDS, SIZE_UNITS, IncidentError, IncidentFacts, parse_slo
from chaos.incident.scaffold import write_scaffold

app = typer.Typer(help="Post-incident verification.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


class MissingFact(Exception):
    def __init__(self, option: str) -> None:
        super().__init__(f"{option} is required with --no-input")


def _ask(
    value: Any,
    option: str,
    question: str,
    interactive: bool,
    default: Any = None,
    convert: Callable[[str], Any] = str,
) -> Any:
    """The option's value, else an answer to `question` (asked again until it converts)."""
    if value is not None:
        return value
    if not interactive:
        if default is not None:
            return default
        raise MissingFact(option)
    while True:
        answer = typer.prompt(question, default=default, show_default=default is not None)
        try:
            return convert(str(answer))
        except (ValueError, IncidentError, typer.BadParameter) as exc:
            err_console.print(f"[red]{exc}[/]")


def _fault_kind(text: str) -> str:
    kind = text.strip().lower()
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault kind is one of {', '.join(FAULT_KINDS)}")
    return kind


@app.command("new")
def new(
    incident_id: str = typer.Option(None, "--id", help="Incident id, e.g. INC-2041."),
    summary: str = typer.Option(None, "--summary", help="One line: what users saw."),
    service: str = typer.Option(None, "--service", help="The service that failed."),
    edge: str = typer.Option(
        None, "--edge", help="Or the edge that failed, e.g. orders->payments."
    ),
    fault: str = typer.Option(None, "--fault", help=f"What happened: {', '.join(FAULT_KINDS)}."),
    size: float = typer.Option(
        None,
        "--size",
        help="How bad: latency in ms, bandwidth in KB/s, replicas killed or paused.",
    ),
    duration_s: float | None = typer.Option(
        None, "--duration", parser=DURATION, help="How long it lasted, e.g. 45s, 2m."
    ),
    users: int = typer.Option(None, "--users", help="Load at the time, in concurrent users."),
    spawn_rate: float = typer.Option(10.0, "--spawn-rate", help="Users started per second."),
    slo: str = typer.Option(
        None, "--slo", help="The SLO that broke: 'p95 <= 500ms', 'p99 <= 1s', 'error_rate <= 1%'."
    ),
    endpoint: str = typer.Option(
        None,
        "--endpoint",
        help="The endpoint the SLO is about, e.g. 'POST /checkout'. Default: all.",
    ),
    experiments_dir: Path = typer.Option(
        Path("experiments"), "--experiments-dir", help="Where the experiment goes."
    ),
    runbooks_dir: Path = typer.Option(
        Path("runbooks"), "--runbooks-dir", help="Where the runbook goes."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    no_input: bool = typer.Option(
        False, "--no-input", help="Never prompt: a missing fact is an error (for scripts)."
    ),
) -> None:
    """Scaffold an experiment that replays an incident, and a runbook skeleton.

    Give the facts as options; any that are missing are asked for. The experiment injects
    the incident's fault at its size for its duration under its load and checks the SLO
    that broke, so it deviates before the fix and holds after it. Writes
    EXPERIMENTS_DIR/incident-<id>.yaml and RUNBOOKS_DIR/incident-<id>.md. Exits 2 on bad or
    missing facts.
    """
    interactive = not no_input
    try:
        incident_id = _ask(incident_id, "--id", "Incident id (e.g. INC-2041)", interactive)
        summary = _ask(summary, "--summary", "What did users see (one line)", interactive)
        if service is None and edge is None:
            target = _ask(
                None, "--service or --edge", "Service or edge (a->b) that failed", interactive
            )
            service, edge = (None, target) if "->" in target else (target, None)
        fault = _ask(
            fault,
            "--fault",
            f"Fault kind ({'/'.join(FAULT_KINDS)})",
            interactive,
            convert=_fault_kind,
        )
        fault = _fault_kind(fault)
        if fault in SIZE_UNITS:
            size = _ask(size, "--size", f"Size in {SIZE_UNITS[fault]}", interactive, convert=float)
        duration_s = _ask(
            duration_s,
            "--duration",
            "How long did it last (e.g. 45s)",
            interactive,
            convert=parse_duration,
        )
        users = _ask(
            users, "--users", "Concurrent users at the time", interactive, default=20, convert=int
        )
        broken = _ask(
            parse_slo(slo, endpoint) if slo else None,
            "--slo",
            "The SLO that broke (p95 <= 500ms, error_rate <= 1%)",
            interactive,
            convert=lambda text: parse_slo(text, endpoint),
        )
        facts = IncidentFacts(
            incident_id=incident_id,
            summary=summary,
            service=service,
            edge=edge,
            fault=fault,
            size=size if fault in SIZE_UNITS else None,
            duration_s=duration_s,
            users=users,
            spawn_rate=spawn_rate,
            slo=broken,
        )
        experiment, runbook = write_scaffold(facts, experiments_dir, runbooks_dir, force=force)
    except (MissingFact, IncidentError, ValueError) as exc:
        err_console.print(f"[red]error:[/] {_reason(exc)}")
        raise typer.Exit(2) from exc
    console.print(f"wrote [bold]{experiment}[/] and [bold]{runbook}[/]")
    console.print(f"next: gameday validate {experiment} && gameday verify {experiment} --repeat 5")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        return f"{field}: {error['msg']}" if field else str(error["msg"])
    return str(exc)
