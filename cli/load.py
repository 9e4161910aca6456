"""`gameday load run`: Locust load on its own, with a live per-second table."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import typer
from pydantic import ValidationError
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chaos.cli.params import DURATION
from chaos.load import LoadError, LoadRunner, LoadSpec, LoadSummary, SecondStats
from chaos.load.samples import JsonLinesTail
from chaos.load.stream import STREAM_FILE

app = typer.Typer(help="Generate load with Locust on its own.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _mesh_gateway() -> str:
    try:
        from chaos.targets.launcher import load_mesh_state

        return load_mesh_state().gateway_url
    except Exception as exc:  # noqa: BLE001 - any failure means "no mesh to default to"
        raise typer.BadParameter(
            f"no --host given and no running mesh found ({exc}); pass --host URL",
            param_hint="--host",
        ) from exc


class _Totals:
    """Cumulative counts per endpoint, summed from the stream's per-second lines."""

    def __init__(self, output_dir: Path) -> None:
        self._tail = JsonLinesTail(output_dir / STREAM_FILE)
        self.requests: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.latest: SecondStats | None = None

    def refresh(self) -> None:
        for line in self._tail.read_new():
            second = SecondStats.model_validate(line)
            self.latest = second
            for name, stats in [("all", second), *second.endpoints.items()]:
                self.requests[name] = self.requests.get(name, 0) + stats.requests
                self.failures[name] = self.failures.get(name, 0) + stats.failures


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _live_table(spec: LoadSpec, runner: LoadRunner, totals: _Totals, started: float) -> Group:
    totals.refresh()
    latest = totals.latest
    state = "running" if runner.ready else "starting"
    header = Text(
        f"{state} · {spec.users} users · {spec.workers or 'no'} workers · {spec.host} · "
        f"{time.monotonic() - started:,.0f} s",
        style="bold",
    )
    table = Table(title="last second" + (f" ({latest.ts})" if latest else ""), expand=False)
    for column in ("endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors/s"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    table.add_column("total req", justify="right")
    table.add_column("total fail", justify="right")
    names = sorted(totals.requests.keys() - {"all"})
    for name in [*names, "all"]:
        stats = latest if name == "all" else (latest.endpoints.get(name) if latest else None)
        table.add_row(
            Text(name, style="bold") if name == "all" else name,
            f"{stats.rps:,.0f}" if stats else "0",
            _ms(stats.p50 if stats else None),
            _ms(stats.p95 if stats else None),
            _ms(stats.p99 if stats else None),
            _ms(stats.max if stats else None),
            str(stats.failures) if stats else "0",
            f"{totals.requests.get(name, 0):,}",
            f"{totals.failures.get(name, 0):,}",
        )
    return Group(header, table)


def _summary_table(summary: LoadSummary) -> Table:
    table = Table(title=f"summary: {summary.duration_s:,.1f} s of load")
    for column in ("endpoint", "requests", "req/s", "p50", "p90", "p95", "p99", "max", "failures"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, stats in [*summary.endpoints.items(), ("all", summary.total)]:
        table.add_row(
            name,
            f"{stats.requests:,}",
            f"{stats.rps:,.1f}",
            *(_ms(v) for v in (stats.p50, stats.p90, stats.p95, stats.p99, stats.max)),
            f"{stats.failures:,}",
        )
    kinds = ", ".join(f"{k}: {n:,}" for k, n in summary.total.failures_by_kind.items())
    if kinds:
        table.caption = f"failures by kind: {kinds}"
    return table


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command("run")
def run(
    users: int = typer.Option(10, "--users", "-u", min=1, help="Concurrent users."),
    spawn_rate: float = typer.Option(10.0, "--spawn-rate", "-r", min=0.01, help="Users/s."),
    duration_s: float | None = typer.Option(
        None,
        "--duration",
        "-t",
        parser=DURATION,
        help="Run time, e.g. 30s, 2m, 1h30m. Default: until Ctrl-C.",
    ),
    workers: int = typer.Option(
        0, "--workers", "-w", min=0, help="Distributed mode: a master and N workers on loopback."
    ),
    locustfile: Path = typer.Option(
        None,
        "--locustfile",
        "-f",
        exists=True,
        dir_okay=False,
        help="Your locustfile. Default: the bundled shop locustfile.",
    ),
    user_classes: list[str] = typer.Option(
        [], "--user-class", help="Run only this User class (repeatable). Default: all."
    ),
    host: str = typer.Option(
        None, "--host", "-H", help="Base URL to load. Default: the running mesh's gateway."
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Output folder. Default: runs/<UTC time>-load."
    ),
) -> None:
    """Run Locust headless in a subprocess and show requests/s, latency percentiles and
    errors per endpoint every second. Writes stream.jsonl (one line per second, from raw
    samples), the raw samples, summary.json, acks.jsonl and locust.log into --out."""
    host = host or _mesh_gateway()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = out or Path("runs") / f"{stamp}-load"
    try:
        spec = LoadSpec(
            host=host,
            users=users,
            spawn_rate=spawn_rate,
            duration_s=duration_s,
            locustfile=locustfile,
            user_classes=user_classes,
            workers=workers,
            output_dir=out,
            env={"GAMEDAY_ACK_FILE": str((out / "acks.jsonl").resolve())},
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(problems) from exc
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    runner = LoadRunner(spec)
    totals = _Totals(out)
    started = time.monotonic()
    try:
        runner.start()
        with Live(console=console, refresh_per_second=2, transient=False) as live:
            try:
                live.update(_live_table(spec, runner, totals, started))
                runner.wait_ready(timeout=60 + users / spawn_rate)
                while not runner.wait(0.5):
                    live.update(_live_table(spec, runner, totals, started))
            except KeyboardInterrupt:
                live.console.print("stopping…")
            finally:
                runner.stop()
                live.update(_live_table(spec, runner, totals, started))
    except LoadError as exc:
        err_console.print(f"[red]load failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        runner.stop()
        signal.signal(signal.SIGTERM, previous_sigterm)
    if runner.summary is not None:
        console.print()
        console.print(_summary_table(runner.summary))
    console.print(f"stream: {out / STREAM_FILE}   summary: {out / 'summary.json'}")
    if runner.failure is not None:
        err_console.print(f"[red]load failed:[/red] {runner.failure}")
        raise typer.Exit(1)
