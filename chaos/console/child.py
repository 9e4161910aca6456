"""Entry point of the console's child process (`start_console_process`): reads its
settings from stdin and serves on the inherited socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from chaos.console.access import ConsoleAccess
from chaos.console.server import serve

PARENT_CHECK_S = 1.0


def _end_with_parent(parent: int) -> None:
    """A console whose run died (SIGKILL) must not outlive it on its port."""

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(PARENT_CHECK_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="console-parent-watch", daemon=True).start()


def main() -> None:
    _end_with_parent(os.getppid())
    settings = json.loads(sys.stdin.read())
    access = ConsoleAccess(
        bind=settings["bind"],
        facilitator_token=settings["facilitator_token"],
        observer_token=settings["observer_token"],
    )
    sock = socket.socket(fileno=int(settings["fd"]))
    serve(sock, Path(settings["runs_dir"]), access)


if __name__ == "__main__":
    main()
