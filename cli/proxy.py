"""`gameday proxy serve`: the Toxiproxy-compatible fault proxy in the foreground."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from chaos.proxy import ToxiproxyError, serve_forever
from chaos.proxy.config import ProxyConfigError, load_proxy_config

app = typer.Typer(
    help="The built-in, Toxiproxy-compatible fault proxy (latency, bandwidth, resets...).",
    no_args_is_help=True,
)
err = Console(stderr=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command()
def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface of the HTTP API (loopback by default)."
    ),
    port: int = typer.Option(8474, "--port", min=0, max=65535, help="Port of the HTTP API."),
    config: Path | None = typer.Option(
        None,
        "--config",
        help=(
            "JSON file of proxies to create at start, in Toxiproxy's /populate format; "
            'each proxy may also list "toxics" (bodies of POST /proxies/{name}/toxics).'
        ),
    ),
) -> None:
    """Serve the Toxiproxy HTTP API until Ctrl-C (default http://127.0.0.1:8474).

    Toxiproxy clients work unchanged (toxiproxy-cli, toxiproxy-python, chaostoolkit-toxiproxy).
    Exit code 2 for a bad --config, 4 when the API's port is already in use.
    """
    proxies = []
    if config is not None:
        try:
            proxies = load_proxy_config(config)
        except ProxyConfigError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from exc

    def ready(url: str) -> None:
        err.print(f"fault proxy API on {url} ({len(proxies)} proxies from config)")

    # SIGTERM stops as cleanly as Ctrl-C: proxies closed, exit code 0.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve_forever(host=host, port=port, config=proxies, on_ready=ready)
    except KeyboardInterrupt:
        err.print("fault proxy stopped")
    except OSError as exc:
        # The port or interface is taken or missing: the machine, not the input, is at fault.
        err.print(
            f"[red]error:[/red] cannot serve the API on {host}:{port}: {exc.strerror or exc}; "
            "nothing was started (choose another --port, 0 for any free one)",
            highlight=False,
        )
        raise typer.Exit(4) from exc
    except ToxiproxyError as exc:
        err.print(f"[red]error:[/red] {config}: {exc.message}", highlight=False)
        raise typer.Exit(2) from exc
