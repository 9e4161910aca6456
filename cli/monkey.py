"""`gameday monkey`: Chaos Monkey mode against the running local mesh."""

from __future__ import annotations

import random
import signal
import time
from datetime import datetime
from pathlib import Path
from types import FrameType

import typer
from pydantic import ValidationError
from rich.console import Console

from chaos.cli.params import DURATION
from chaos.engine.runs_folder import RunsFolderUnusable, check_runs_dir
from chaos.engine.target import MESH_STATE_ENV
from chaos.gates import GateError, append_run
from chaos.monkey import (
    ChaosMonkey,
    KillRecord,
    MonkeyConfig,
    MonkeyConfigError,
    MonkeyError,
    RunFolderRecorder,
    check_services_exist,
    new_run_dir,
    parse_window,
)
from chaos.monkey.monkey import STOP_VERDICTS
from chaos.monkey.replicas import mesh_replicas, pid_alive, send_signal
from chaos.safety.runner_registry import RegistryError, registered_runner
from chaos.safety.stop_hold import EmergencyStopActive, refuse_if_stopped
from chaos.targets.launcher import default_state_path

console = Console()
err_console = Console(stderr=True)


class LocalClock:
    """Wall-clock time in the machine's timezone (windows are read in it)."""

    def now(self) -> datetime:
        return datetime.now().astimezone()


class ConsoleRecorder(RunFolderRecorder):
    """Records the run folder and says what happens as it happens."""

    def killed(self, record: KillRecord) -> None:
        super().killed(record)
        verb = "would kill" if record.dry_run else "killed"
        when = datetime.fromtimestamp(record.ts).astimezone().strftime("%H:%M:%S")
        console.print(
            f"{when} {verb} [bold]{record.service}[/] replica {record.index} (pid {record.pid})"
        )

    def skipped(self, at: datetime, why: str) -> None:
        super().skipped(at, why)
        console.print(f"{at:%H:%M:%S} [yellow]no kill[/]: {why}")

    def waiting(self, at: datetime, until: datetime, why: str) -> None:
        super().waiting(at, until, why)
        console.print(f"{at:%H:%M:%S} sleeping until {until:%a %H:%M}: {why}")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def monkey_command(
    services: list[str] = typer.Option(
        ...,
        "--service",
        "-s",
        help="Opt a service in (repeatable). Services not listed are never touched.",
    ),
    mean_interval_s: float = typer.Option(
        "10m",
        "--mean-interval",
        parser=DURATION,
        help="Mean time between kills (exponential gaps), e.g. 30s, 10m.",
    ),
    windows: list[str] = typer.Option(
        ["Mon-Fri 09:00-17:00"],
        "--window",
        "-w",
        help="Allowed time window in local time (repeatable): '[Day[-Day]] HH:MM-HH:MM' or "
        "'always'.",
    ),
    budget: int = typer.Option(3, "--budget", "-b", min=1, help="Most kills in this run."),
    duration_s: float | None = typer.Option(
        None,
        "--duration",
        "-t",
        parser=DURATION,
        help="Stop after this long, e.g. 1h. Default: when the budget is spent.",
    ),
    min_alive: int = typer.Option(
        1, "--min-alive", min=0, help="Never leave a service with fewer live replicas than this."
    ),
    max_idle: int = typer.Option(
        10, "--max-idle", min=1, help="Stop after this many kill moments in a row found no victim."
    ),
    kill_signal: str = typer.Option("SIGKILL", "--signal", help="SIGKILL or SIGTERM."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Pick victims and record them, but kill nothing."
    ),
    seed: int = typer.Option(None, "--seed", help="Seed the random choices (repeatable runs)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where the run folder goes."),
    mesh_state: Path = typer.Option(
        None,
        "--mesh-state",
        envvar=MESH_STATE_ENV,
        help="Mesh state file. Default: .gameday/mesh.json.",
    ),
) -> None:
    """Chaos Monkey: kill random replicas of opt-in services at random moments.

    Kills come at exponential gaps with the given mean, only inside the allowed windows,
    never more than the budget, and never below --min-alive live replicas per service. The
    mesh's supervisor restarts killed replicas. Every kill goes into a run folder (timeline
    and ledger) and the run history, like an experiment. Exits 0 when done (budget spent,
    duration over, or --max-idle moments in a row with nothing to kill), 3 on Ctrl-C, 2 on
    bad options, 4 when no mesh is running or it stopped, or while `gameday stop` holds.
    """
    try:
        if kill_signal not in ("SIGKILL", "SIGTERM"):
            raise typer.BadParameter("use SIGKILL or SIGTERM", param_hint="--signal")
        config = MonkeyConfig(
            services=services,
            mean_interval_s=mean_interval_s,
            windows=[parse_window(text) for text in windows],
            budget=budget,
            duration_s=duration_s,
            min_alive=min_alive,
            max_idle=max_idle,
            dry_run=dry_run,
            signal=int(getattr(signal, kill_signal)),
        )
    except (MonkeyError, ValidationError) as exc:
        err_console.print(f"[red]error:[/] {_reason(exc)}")
        raise typer.Exit(2) from exc
    # Record the resolved path, so the ledger's undo finds this mesh from anywhere.
    mesh_state = (mesh_state or default_state_path()).resolve()
    try:
        check_services_exist(config, {replica.service for replica in mesh_replicas(mesh_state)})
    except MonkeyError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2 if isinstance(exc, MonkeyConfigError) else 4) from exc

    try:
        check_runs_dir(runs_dir)
        refuse_if_stopped(runs_dir)
    except (EmergencyStopActive, RunsFolderUnusable) as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(4) from exc
    clock = LocalClock()
    run_dir = new_run_dir(runs_dir, clock.now())
    recorder = ConsoleRecorder(run_dir, config, mesh_state)
    monkey = ChaosMonkey(
        config=config,
        replicas=lambda: mesh_replicas(mesh_state),
        clock=clock,
        sleep=time.sleep,
        observer=recorder,
        is_alive=pid_alive,
        kill=send_signal,
        rng=random.Random(seed),
    )
    mode = " (dry run)" if dry_run else ""
    console.print(
        f"monkey{mode}: {', '.join(services)}; mean gap {config.mean_interval_s:g} s; budget "
        f"{budget}; windows {', '.join(str(w) for w in config.windows)}; run folder {run_dir}"
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Registered so `gameday stop` finds (and SIGTERMs) this monkey.
        with registered_runner(runs_dir, "monkey", run_dir, recorder.ledger.path):
            refuse_if_stopped(runs_dir)
            result = monkey.run()
    except (EmergencyStopActive, RegistryError) as exc:
        run_dir.rmdir()  # the monkey never started: its folder is still empty
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(4) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        append_run(run_dir, "monkey", runs_dir)
    except GateError as exc:
        err_console.print(f"[yellow]warning:[/] not added to the run history: {exc}")
    done = sum(1 for kill in result.kills if not kill.dry_run)
    console.print(
        f"{result.reason}: {done} kill(s), {len(result.kills) - done} dry-run, "
        f"{result.skipped} skipped; {run_dir}"
    )
    raise typer.Exit(STOP_VERDICTS[result.reason][1])


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        return f"{field}: {error['msg']}"
    return str(exc)
