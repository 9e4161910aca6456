"""`gameday console` and the `--console` of `run` and `play`: the game-day page in a browser."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from chaos.cli.report import ConsoleFacilitator
from chaos.console.access import ConsoleAccess, is_loopback
from chaos.console.advance import wait_for_advance
from chaos.console.errors import ConsoleNotStarted
from chaos.gameday.active import active_run
from chaos.gameday.errors import NoActiveRun

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_INVALID = 2
EXIT_COULD_NOT_RUN = 4
BIND_HELP = (
    "Address to serve the console on (default 127.0.0.1: this machine only). Any other "
    "address, e.g. 0.0.0.0 for the team's laptops, requires the tokens printed at start."
)
PORT_HELP = "Port of the console (default 0: a free port, printed at start)."


def _shown_url(url: str, bind: str) -> str:
    """Teammates cannot open 0.0.0.0: show this machine's name instead."""
    if bind in ("0.0.0.0", "::"):
        shown = f"[{bind}]" if ":" in bind else bind
        return url.replace(f"//{shown}:", f"//{socket.gethostname()}:")
    return url


def print_access(url: str, access: ConsoleAccess) -> None:
    url = _shown_url(url, access.bind)
    if not access.tokens_required:
        console.print(f"console: {url} (this machine only)", highlight=False)
        return
    console.print(f"console on {access.bind}: every request needs a token", highlight=False)
    console.print(f"  facilitator: {url}?token={access.facilitator_token}", highlight=False)
    console.print(f"  observers:   {url}?token={access.observer_token}", highlight=False)


@contextmanager
def console_beside_run(runs_dir: Path, bind: str, port: int) -> Iterator[None]:
    """Serve the console in a child process for as long as the block runs."""
    # FastAPI and uvicorn cost every other command ~0.5 s of start-up: imported here.
    from chaos.console.server import start_console_process

    try:
        served = start_console_process(runs_dir, bind, port)
    except ConsoleNotStarted as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_COULD_NOT_RUN) from exc
    print_access(served.url, served.access)
    try:
        yield
    finally:
        served.close()


class BrowserFacilitator(ConsoleFacilitator):
    """`play --step --console`: the next experiment starts on Enter or on the console's
    "Next step", whichever comes first."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.enter = threading.Event()
        # One reader for the whole game day: a wait the console ended must not leave a
        # reader behind that would swallow the next Enter.
        threading.Thread(target=self._read_enter, name="enter-reader", daemon=True).start()

    def _read_enter(self) -> None:
        for _line in sys.stdin:
            self.enter.set()

    def wait_for_enter(self, prompt: str) -> None:
        try:
            gameday_dir = active_run(self.runs_dir)
        except NoActiveRun:
            super().wait_for_enter(prompt)
            return
        self.enter.clear()
        console.print(f"[bold]{prompt}[/] (or press Next step on the console)")
        who = wait_for_advance(gameday_dir, prompt, self.enter)
        console.print(f"next step: {who}", highlight=False)


def console_command(
    runs_dir: Path = typer.Option(
        Path("runs"), "--runs-dir", help="The runs folder of the run or game day to follow."
    ),
    bind: str = typer.Option("127.0.0.1", "--bind", help=BIND_HELP),
    port: int = typer.Option(0, "--port", min=0, max=65535, help=PORT_HELP),
) -> None:
    """Serve the game-day console for the run or game day in progress.

    Attaches to what `gameday run` or `gameday play` is doing under --runs-dir (its
    active-run marker and runner registry) and serves a page with live load charts, fault
    windows, checks, faults with their TTL, the runbook and a note box; the facilitator
    also gets "Next step" and the emergency stop (what `gameday stop` does). It follows
    the next run that starts there, until Ctrl-C. Exit code 2 when nothing is in progress
    under --runs-dir, 4 when the address cannot be bound.
    """
    from chaos.console.server import bind_socket, console_url, serve

    try:
        active_run(runs_dir)
    except NoActiveRun as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from exc
    access = ConsoleAccess(bind=bind)
    try:
        sock = bind_socket(bind, port)
    except ConsoleNotStarted as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_COULD_NOT_RUN) from exc
    print_access(console_url(sock), access)
    if not is_loopback(bind):
        console.print("[dim]share the observers' link with the team; Ctrl-C ends the console[/]")
    try:
        serve(sock, runs_dir.resolve(), access)
    finally:
        sock.close()


def register(app: typer.Typer) -> None:
    from chaos.cli.gates import command_help

    app.command("console", help=command_help(console_command))(console_command)
