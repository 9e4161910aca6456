"""The `gameday` command line: argument parsing, rich output and exit codes only."""

from __future__ import annotations

import inspect
import sys
import warnings

import typer

from chaos import __version__
from chaos.cli import gates
from chaos.experiment.extension import LegacyExperimentForm

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

# `gameday --help` groups commands by what a user does, in this order; a command missing
# here would land in a bare "Commands" panel above them all (a test keeps this complete).
HELP_PANELS: dict[str, tuple[str, ...]] = {
    "Start here": ("demo",),
    "Experiments": ("run", "validate", "import", "rollback", "report"),
    "Game days": ("play", "console", "note", "stop", "monkey"),
    "CI and incidents": ("compare", "history", "verify", "incident"),
    "Targets and tools": ("mesh", "load", "proxy", "lab"),
}


def _show_notice(message, category, filename, lineno, file=None, line=None) -> None:
    """Old-form experiments get one line on stderr, not Python's warning format."""
    if issubclass(category, LegacyExperimentForm):
        print(f"notice: {message}", file=sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning
warnings.showwarning = _show_notice


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


app.add_typer(__import__("chaos.cli.load", fromlist=["app"]).app, name="load")
app.add_typer(__import__("chaos.cli.mesh", fromlist=["app"]).app, name="mesh")
app.add_typer(__import__("chaos.cli.lab", fromlist=["app"]).app, name="lab")
app.add_typer(__import__("chaos.cli.proxy", fromlist=["app"]).app, name="proxy")


gates.register(app)  # compare, history, verify, incident, monkey
__import__("chaos.cli.report", fromlist=["register"]).register(
    app
)  # report, play, note, stop, console
__import__("chaos.cli.run", fromlist=["register"]).register(app)  # run, validate, demo
app.command("rollback")(__import__("chaos.cli.rollback", fromlist=["app"]).rollback_command)
__import__("chaos.cli.importer", fromlist=["register"]).register(app)  # import


def _one_line_paragraphs(text: str) -> str:
    """Rich help keeps a docstring's hard line breaks, which cut a command's one-line summary
    in two: join each paragraph into one line."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def _group_commands(typer_app: typer.Typer) -> None:
    """Put each command and group in its help panel, panels in `HELP_PANELS` order."""
    panel_of = {name: panel for panel, names in HELP_PANELS.items() for name in names}
    order = {name: index for index, name in enumerate(panel_of)}
    for info in [*typer_app.registered_commands, *typer_app.registered_groups]:
        if info.name in panel_of:
            info.rich_help_panel = panel_of[info.name]
    # Typer lists commands before groups, each in registration order; panels then appear
    # in the order of their first member.
    typer_app.registered_commands.sort(key=lambda info: order.get(info.name or "", len(order)))
    typer_app.registered_groups.sort(key=lambda info: order.get(info.name or "", len(order)))


def _tidy_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        text = command.help if isinstance(command.help, str) else None
        if text is None and command.callback is not None:
            text = command.callback.__doc__
        if text:
            command.help = _one_line_paragraphs(text)
    for group in typer_app.registered_groups:
        _tidy_help(group.typer_instance)


_group_commands(app)
_tidy_help(app)
