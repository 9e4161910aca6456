"""`gameday mesh up|status|down|check`: the bundled sample shop on this machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import typer
from rich.console import Console
from rich.table import Table

from chaos.targets.launcher import MeshNotRunning, MeshState, default_state_path, load_mesh_state
from chaos.targets.launcher.state import STATE_ENV as MESH_STATE_ENV
from chaos.targets.shop.topology import TopologyError, load_topology

app = typer.Typer(
    help=(
        "Run the bundled sample shop (gateway, catalog, recommendations, inventory, payments, "
        "orders, notifications) as local processes, every edge through the fault proxy."
    ),
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

EXIT_COULD_NOT_RUN = 4
DETACH_TIMEOUT_S = 60.0
DOWN_TIMEOUT_S = 30.0

STATE_FILE_HELP = "Mesh state file. Default: .gameday/mesh.json."


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _parse_replicas(values: list[str]) -> dict[str, int]:
    replicas: dict[str, int] = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not sep or not name or not count.isdigit() or not 1 <= int(count) <= 16:
            raise _fail(f"--replicas {value!r}: expected SERVICE=N with N between 1 and 16")
        replicas[name.strip()] = int(count)
    return replicas


def _already_running(state_file: Path) -> MeshState | None:
    try:
        return load_mesh_state(state_file)
    except MeshNotRunning:
        return None


@app.command("up")
def up(
    detach: bool = typer.Option(
        False, "--detach", "-d", help="Run in the background; stop it with `gameday mesh down`."
    ),
    replicas: list[str] = typer.Option(
        [], "--replicas", "-r", help="SERVICE=N replicas (repeatable), e.g. catalog=3."
    ),
    topology: Path = typer.Option(
        None, "--topology", "-t", help="Topology file. Default: targets/shop/topology.yaml."
    ),
    state_file: Path = typer.Option(
        None, "--state-file", envvar=MESH_STATE_ENV, help=STATE_FILE_HELP
    ),
    state_dir: Path = typer.Option(
        None,
        "--state-dir",
        help="Where databases, logs and replica configs go. Default: 'mesh' beside the "
        "state file. Its data is wiped on every start.",
    ),
    prometheus: bool = typer.Option(
        False,
        "--prometheus",
        help="Also start a Prometheus server (Debian's `prometheus` binary) on 127.0.0.1 that "
        "scrapes every replica each second; its URL is in the state file.",
    ),
) -> None:
    """Start the shop mesh and wait until every replica is ready, then print its table.
    In the foreground it runs until Ctrl-C; with --detach it keeps running in the
    background. A second `up` while a mesh runs is refused (exit 2)."""
    from chaos.targets.launcher import MeshNotStarted
    from chaos.targets.launcher.preflight import check_mesh_can_start

    parsed = _parse_replicas(replicas)
    try:
        loaded = load_topology(topology, replicas=parsed)
    except TopologyError as exc:
        raise _fail(str(exc)) from exc
    state_file = state_file or default_state_path()
    state_dir = state_dir or state_file.parent / "mesh"
    running = _already_running(state_file)
    if running is not None:
        raise _fail(
            f"a mesh is already running (owner pid {running.owner_pid}, gateway "
            f"{running.gateway_url}, state file {state_file}); stop it with `gameday mesh down`"
        )
    try:
        check_mesh_can_start(loaded, state_dir, state_file)
    except MeshNotStarted as exc:
        raise _fail(str(exc), EXIT_COULD_NOT_RUN) from exc
    if prometheus:
        from chaos.targets.launcher.prometheus import PrometheusMissing, find_prometheus

        try:
            find_prometheus()
        except PrometheusMissing as exc:
            raise _fail(str(exc), EXIT_COULD_NOT_RUN) from exc
    if detach:
        _up_detached(state_file, state_dir, topology, parsed, prometheus)
    else:
        _up_foreground(state_file, state_dir, topology, parsed, prometheus)


def _up_detached(
    state_file: Path,
    state_dir: Path,
    topology: Path | None,
    replicas: dict[str, int],
    prometheus: bool,
) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "daemon.log"
    command = [
        sys.executable,
        "-m",
        "chaos.targets.launcher.daemon",
        "--state-dir",
        str(state_dir.resolve()),
        "--state-file",
        str(state_file.resolve()),
        "--replicas",
        json.dumps(replicas),
    ]
    if topology is not None:
        command += ["--topology", str(topology.resolve())]
    if prometheus:
        command.append("--prometheus")
    with open(log_path, "wb") as log:
        daemon = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    started = time.monotonic()
    with console.status("starting the mesh…"):
        while time.monotonic() - started < DETACH_TIMEOUT_S:
            if daemon.poll() is not None:
                tail = log_path.read_text(errors="replace").strip()
                raise _fail(f"the mesh did not start:\n{tail}", 1)
            state = _already_running(state_file)
            if state is not None and state.owner_pid == daemon.pid:
                break
            time.sleep(0.1)
        else:
            daemon.terminate()
            late = f"the mesh was not ready after {DETACH_TIMEOUT_S:.0f} s (see {log_path})"
            raise _fail(late, 1)
    console.print(f"mesh up in {time.monotonic() - started:.1f} s (daemon pid {daemon.pid})")
    _print_status(state, state_file)


def _up_foreground(
    state_file: Path,
    state_dir: Path,
    topology: Path | None,
    replicas: dict[str, int],
    prometheus: bool,
) -> None:
    from chaos.targets.launcher import MeshNotStarted, MeshStartError, start_mesh

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with console.status("starting the mesh…"):
            handle = start_mesh(
                state_dir, topology, replicas, state_file=state_file, prometheus=prometheus
            )
    except MeshStartError as exc:
        # A port taken since the check in `up`: still nothing started.
        code = EXIT_COULD_NOT_RUN if isinstance(exc, MeshNotStarted) else 1
        raise _fail(str(exc), code) from exc
    try:
        console.print(f"mesh up in {handle.startup_seconds:.1f} s; Ctrl-C stops it")
        _print_status(handle.state, state_file)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping the mesh…")
        handle.stop()
    console.print("mesh stopped")


def _ready(client: httpx.Client, port: int) -> bool:
    try:
        return client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return False


def _print_status(state: MeshState, state_file: Path) -> None:
    services = Table(title=f"mesh (owner pid {state.owner_pid}, state {state_file})")
    for column in ("service", "address", "replica", "pid", "port", "ready", "restarts"):
        services.add_column(column, justify="right" if column in ("pid", "port") else "left")
    with httpx.Client(timeout=0.5) as client:
        for name, service in state.services.items():
            for n, replica in enumerate(service.replicas):
                ready = _alive(replica.pid) and _ready(client, replica.port)
                services.add_row(
                    name if n == 0 else "",
                    service.address if n == 0 else "",
                    str(replica.index),
                    str(replica.pid),
                    str(replica.port),
                    "[green]yes[/green]" if ready else "[red]no[/red]",
                    str(replica.restarts),
                )
    console.print(services)
    edges = Table(title=f"edges (fault proxy API {state.proxy_api})")
    for column in ("edge", "listen", "upstream", "enabled", "toxics"):
        edges.add_column(column)
    proxies = _proxies(state.proxy_api)
    for name, edge in state.edges.items():
        proxy = proxies.get(name)
        toxics = (
            ", ".join(f"{t.name} ({t.type} {t.stream})" for t in proxy.toxics) if proxy else "?"
        )
        enabled = "?" if proxy is None else ("yes" if proxy.enabled else "[red]no[/red]")
        edges.add_row(name, edge.listen, edge.upstream, enabled, toxics or "-")
    console.print(edges)
    console.print(f"gateway: [bold]{state.gateway_url}[/bold]")
    if state.prometheus_url:
        console.print(f"prometheus: [bold]{state.prometheus_url}[/bold]")


def _proxies(api: str) -> dict:
    from chaos.proxy import ToxiproxyClient, ToxiproxyError

    try:
        with ToxiproxyClient(api, timeout=2.0) as client:
            return client.proxies()
    except ToxiproxyError:
        return {}


def _load(state_file: Path | None) -> tuple[MeshState, Path]:
    path = state_file or default_state_path()
    try:
        return load_mesh_state(path), path
    except MeshNotRunning as exc:
        raise _fail(f"{exc}; start one with `gameday mesh up --detach`") from exc


@app.command("status")
def status(
    state_file: Path = typer.Option(
        None, "--state-file", envvar=MESH_STATE_ENV, help=STATE_FILE_HELP
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the state file's JSON instead."),
) -> None:
    """Show the running mesh: services, replicas, pids, ports, readiness (live /readyz),
    restarts, and every edge with its proxy listener and active toxics. Exit 2 if no
    mesh runs."""
    state, path = _load(state_file)
    if as_json:
        typer.echo(state.model_dump_json(indent=2))
        return
    _print_status(state, path)


@app.command("down")
def down(
    state_file: Path = typer.Option(
        None, "--state-file", envvar=MESH_STATE_ENV, help=STATE_FILE_HELP
    ),
) -> None:
    """Stop the running mesh (detached or in another terminal) and wait until no replica,
    balancer or proxy is left. Succeeds (exit 0) if no mesh is running."""
    path = state_file or default_state_path()
    try:
        state = load_mesh_state(path)
    except MeshNotRunning as exc:
        if path.exists():
            path.unlink()  # stale: its owner is gone
        console.print(f"no mesh running ({exc})")
        return
    pids = [r.pid for s in state.services.values() for r in s.replicas]
    try:
        owner = psutil.Process(state.owner_pid)
        descendants = owner.children(recursive=True)
    except psutil.Error:
        descendants = []
    os.kill(state.owner_pid, signal.SIGTERM)
    with console.status("stopping the mesh…"):
        gone, alive = psutil.wait_procs([owner], timeout=DOWN_TIMEOUT_S)
        if alive:
            err.print(f"owner pid {state.owner_pid} did not stop in time; killing the mesh")
            for process in [*alive, *descendants]:
                try:
                    process.kill()
                except psutil.Error:
                    continue
        psutil.wait_procs(descendants, timeout=5)
    left = [pid for pid in pids if _alive(pid)]
    if left:
        raise _fail(f"replica pid(s) {left} are still running", 1)
    if path.exists() and _already_running(path) is None:
        path.unlink()
    console.print("mesh stopped")


@app.command("check")
def check(
    ack: Path = typer.Option(
        None,
        "--ack-file",
        "-a",
        envvar="GAMEDAY_ACK_FILE",
        exists=True,
        dir_okay=False,
        help="JSON lines of acknowledged orders (from a load run). Without one, only orders "
        "the shop itself recorded are audited.",
    ),
    state_file: Path = typer.Option(
        None, "--state-file", envvar=MESH_STATE_ENV, help=STATE_FILE_HELP
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Audit the shop's data: acknowledged orders exist and are confirmed, each charged
    exactly once, stock matches confirmed orders, each notified exactly once once the
    outbox drained; reports the outbox backlog. Exit 0 if every invariant holds, 1 if
    one is violated, 2 if no mesh runs."""
    from chaos.targets.shop.invariants import InvariantError, check_invariants

    state, _ = _load(state_file)
    try:
        report = check_invariants(state, ack)
    except InvariantError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        table = Table(title="shop invariants")
        for column in ("invariant", "holds", "detail"):
            table.add_column(column)
        for item in report.checks:
            mark = "[green]yes[/green]" if item.ok else "[red]NO[/red]"
            table.add_row(item.name, mark, item.detail)
        console.print(table)
        console.print(
            f"outbox backlog: {report.outbox_backlog}   confirmed orders: "
            f"{report.orders_confirmed}   in flight: {report.orders_in_flight}   "
            f"acknowledged: {report.acknowledged}"
        )
    if not report.ok:
        raise typer.Exit(1)
