"""`gameday compare`, `gameday history` and the CI gate of `gameday run` (--junit,
--baseline, the GitHub step summary): baselines and the run history, in rich tables."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chaos.cli.params import MARGIN
from chaos.engine import RunResult
from chaos.gates import Comparison, GateError, Margin, compare, read_history
from chaos.gates.ci import check_baseline, gate_run
from chaos.gates.compare import MetricDelta

console = Console()
err_console = Console(stderr=True)

VERDICT_STYLE = {"held": "green", "deviated": "red", "aborted": "yellow", "could_not_run": "red"}
STATUS_STYLE = {"ok": "green", "improved": "cyan", "regressed": "bold red", "not_comparable": "dim"}


def margin_options(margin: float, p95_floor_ms: float, recover_floor_s: float) -> Margin:
    return Margin(relative=margin, p95_floor_ms=p95_floor_ms, recover_floor_s=recover_floor_s)


MARGIN_HELP = "Allowed worsening of p95 under fault and of time to recover, e.g. 20% or 0.2."
P95_FLOOR_HELP = "p95 changes smaller than this (ms) never count as a regression."
RECOVER_FLOOR_HELP = "Time-to-recover changes smaller than this (s) never count as a regression."


def compare_command(
    run_a: Path = typer.Argument(..., help="The baseline run folder (runs/<time>-<slug>)."),
    run_b: Path = typer.Argument(..., help="The candidate run folder, compared against RUN_A."),
    margin: float = typer.Option("20%", "--margin", parser=MARGIN, help=MARGIN_HELP),
    p95_floor_ms: float = typer.Option(10.0, "--p95-floor-ms", min=0, help=P95_FLOOR_HELP),
    recover_floor_s: float = typer.Option(1.0, "--recover-floor-s", min=0, help=RECOVER_FLOOR_HELP),
) -> None:
    """Compare two runs of an experiment side by side.

    Shows verdict, p95 latency during the fault window and time to recover. Exits 1 when
    RUN_B regressed beyond the margin against RUN_A, 0 otherwise, 2 when a folder cannot be
    read.
    """
    try:
        comparison = compare(run_a, run_b, margin_options(margin, p95_floor_ms, recover_floor_s))
    except GateError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(comparison_table(comparison))
    if not comparison.same_experiment:
        err_console.print("[yellow]warning:[/] the two runs are of different experiments")
    if comparison.regressed:
        names = ", ".join(delta.name for delta in comparison.regressions)
        console.print(f"[bold red]regressed[/] beyond {comparison.margin.relative:.0%}: {names}")
        raise typer.Exit(1)
    console.print(f"[green]within margin[/] ({comparison.margin.relative:.0%})")


def comparison_table(comparison: Comparison) -> Table:
    base, cand = comparison.baseline, comparison.candidate
    table = Table(title=f"{cand.title or cand.slug}: baseline vs this run")
    table.add_column("metric")
    table.add_column(f"baseline\n{Path(base.run_dir).name}", justify="right")
    table.add_column(f"candidate\n{Path(cand.run_dir).name}", justify="right")
    table.add_column("change", justify="right")
    table.add_column("status")
    table.add_row(
        "verdict",
        Text(base.verdict, style=VERDICT_STYLE.get(base.verdict, "")),
        Text(cand.verdict, style=VERDICT_STYLE.get(cand.verdict, "")),
        "",
        "",
    )
    for delta in comparison.deltas:
        table.add_row(*_delta_cells(delta))
    table.add_row(
        "error rate under fault",
        _percent(base.error_rate_under_fault),
        _percent(cand.error_rate_under_fault),
        "",
        "",
    )
    return table


def _delta_cells(delta: MetricDelta) -> list[str | Text]:
    change = ""
    if delta.delta is not None:
        change = f"{delta.delta:+,.1f} {delta.unit}"
        if delta.relative is not None:
            change += f" ({delta.relative:+.0%})"
    status = delta.status.replace("_", " ") + (f": {delta.note}" if delta.note else "")
    return [
        delta.name,
        _value(delta.baseline, delta.unit),
        _value(delta.candidate, delta.unit),
        change,
        Text(status, style=STATUS_STYLE[delta.status]),
    ]


def history_command(
    experiment: str = typer.Argument(
        None, help="Only runs of this experiment (file path, file name, slug or title)."
    ),
    runs_dir: Path = typer.Option(
        Path("runs"), "--runs-dir", help="Where runs and their index.jsonl live."
    ),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show the newest N runs."),
) -> None:
    """Show past runs: verdicts, time to recover and p95 under fault over time.

    Reads the index every `gameday run` appends to (RUNS_DIR/index.jsonl), oldest first.
    """
    try:
        entries = read_history(runs_dir, experiment)
    except GateError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if not entries:
        what = f" of {experiment!r}" if experiment else ""
        console.print(f"no runs{what} in {runs_dir / 'index.jsonl'}")
        return
    shown = entries[-limit:]
    table = Table(title=f"run history{f': {experiment}' if experiment else ''}")
    for column, justify in [
        ("when", "left"),
        ("experiment", "left"),
        ("verdict", "left"),
        ("exit", "right"),
        ("time to recover", "right"),
        ("p95 under fault", "right"),
        ("run folder", "left"),
    ]:
        table.add_column(column, justify=justify)
    for entry in shown:
        table.add_row(
            datetime.fromtimestamp(entry.ts).strftime("%Y-%m-%d %H:%M"),
            entry.title or entry.experiment,
            Text(entry.verdict, style=VERDICT_STYLE.get(entry.verdict, "")),
            str(entry.exit_code),
            "did not recover" if entry.recovered is False else _value(entry.time_to_recover_s, "s"),
            _value(entry.p95_under_fault_ms, "ms"),
            entry.run_dir,
        )
    console.print(table)
    held = sum(1 for entry in shown if entry.verdict == "held")
    older = f"; {len(entries) - len(shown)} older runs not shown" if len(entries) > limit else ""
    console.print(f"{held}/{len(shown)} held{older}")


def _value(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{value:,.1f} {unit}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


JUNIT_HELP = "Also write the run's JUnit XML (one test case per hypothesis check) to this file."
BASELINE_HELP = (
    "An earlier run folder of the same experiment: exit 1 when p95 under fault or time to "
    "recover regressed beyond --margin."
)


@dataclass
class RunGate:
    """The CI side of `gameday run`: options checked before the run, applied after it."""

    junit: Path | None
    baseline: Path | None
    margin: Margin

    @classmethod
    def from_options(cls, junit: Path | None, baseline: Path | None, margin: float) -> RunGate:
        """Check the gate options before anything starts; bad ones exit 2."""
        gate = cls(junit=junit, baseline=baseline, margin=Margin(relative=margin))
        if baseline is not None:
            try:
                check_baseline(baseline)
            except GateError as exc:
                err_console.print(f"[red]invalid --baseline:[/] {exc}", highlight=False)
                raise typer.Exit(2) from exc
        return gate

    def finish(self, result: RunResult, experiment: Path, runs_dir: Path) -> int:
        """History line, JUnit file, baseline verdict and CI summary; the final exit code."""
        if result.run_dir is None:
            return result.exit_code
        if self.junit is not None:
            self._write_junit(result.run_dir)
        try:
            outcome = gate_run(
                result.run_dir,
                experiment,
                result.exit_code,
                baseline=self.baseline,
                margin=self.margin,
                runs_dir=runs_dir,
            )
        except GateError as exc:
            err_console.print(f"[yellow]run history not updated:[/] {exc}", highlight=False)
            return result.exit_code
        if outcome.comparison is not None:
            console.print(comparison_table(outcome.comparison))
            if not outcome.comparison.same_experiment:
                err_console.print("[yellow]warning:[/] the baseline is a run of another experiment")
            if outcome.comparison.regressed:
                names = ", ".join(delta.name for delta in outcome.comparison.regressions)
                console.print(
                    f"[bold red]regressed against the baseline[/] beyond "
                    f"{self.margin.relative:.0%}: {names}"
                )
        if outcome.step_summary is not None:
            console.print(f"CI summary: {outcome.step_summary}", highlight=False)
        return outcome.exit_code

    def _write_junit(self, run_dir: Path) -> None:
        from chaos.report import ReportError, build_report, render_junit

        assert self.junit is not None
        try:
            xml = render_junit(build_report(run_dir))
            self.junit.parent.mkdir(parents=True, exist_ok=True)
            self.junit.write_text(xml, encoding="utf-8")
        except (ReportError, OSError) as exc:
            err_console.print(f"[yellow]JUnit XML not written:[/] {exc}", highlight=False)
            return
        console.print(f"JUnit XML: {self.junit}", highlight=False)


def command_help(func: Callable[..., object]) -> str:
    """A docstring as --help text: rich mode keeps hard line breaks, so unwrap paragraphs."""
    paragraphs = inspect.cleandoc(func.__doc__ or "").split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def register(app: typer.Typer) -> None:
    """Add the CI-gate, incident and monkey commands to the top level of `gameday`."""
    from chaos.cli import incident, monkey, verify

    commands: list[tuple[str, Callable[..., object]]] = [
        ("compare", compare_command),
        ("history", history_command),
        ("verify", verify.verify_command),
        ("monkey", monkey.monkey_command),
    ]
    for name, func in commands:
        app.command(name, help=command_help(func))(func)
    incident.new.__doc__ = command_help(incident.new)
    app.add_typer(incident.app, name="incident")
