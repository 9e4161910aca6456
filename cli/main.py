"""The `gameday` command line: argument parsing, rich output and exit codes only."""

from __future__ import annotations

import typer

from chaos import __version__
from cli import gates

app = typer.Typer(
    name="gameday",
    help=(
        "Run chaos experiments against a target under load, check steady-state hypotheses, "
        "always roll faults back, and write game-day reports."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gameday {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """chaos-gameday: game days and resilience gates for services."""


app.add_typer(__import__("cli.load", fromlist=["app"]).app, name="load")
app.add_typer(__import__("cli.mesh", fromlist=["app"]).app, name="mesh")
app.add_typer(__import__("cli.lab", fromlist=["app"]).app, name="lab")
app.add_typer(__import__("cli.proxy", fromlist=["app"]).app, name="proxy")


gates.register(app)  # compare, history, verify, incident, monkey
__import__("cli.report", fromlist=["register"]).register(app)  # report, play, note
__import__("cli.run", fromlist=["register"]).register(app)  # run, validate, demo
app.command("rollback")(__import__("cli.rollback", fromlist=["app"]).rollback_command)
