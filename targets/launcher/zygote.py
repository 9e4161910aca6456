"""The zygote: a single-threaded process that imports the shop's code once and forks
every replica from it, so starting 13 replicas costs one Python start-up instead of 13.

`python -m chaos.targets.launcher.zygote` talks JSON lines: it reads commands on stdin and
writes events on stdout, where its replicas also report readiness.

    -> {"op": "spawn", "id": "catalog/0", "config": "...json", "port": 0, "log": "...log"}
    <- {"ev": "spawned", "id": "catalog/0", "pid": 123, "port": 41001}
    <- {"ev": "spawn_failed", "id": "catalog/0", "error": "..."}
    <- {"ev": "ready", "id": "catalog/0", "pid": 123}        (written by the replica)
    <- {"ev": "exited", "pid": 123, "code": -9}
    -> {"op": "stop"}   (or EOF on stdin: its owner is gone)
    <- {"ev": "stopped"}

Replicas are the zygote's children (the owner's grandchildren) and die with it: each
asks the kernel for SIGKILL when the zygote dies, and the zygote asks for SIGTERM when
its owner dies, so no replica outlives a crashed owner.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import sys
import time
from typing import Any

PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 3.0


def die_with_parent(sig: int, expected_parent: int) -> None:
    """Linux: get `sig` when the parent exits; if it already did, exit now."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != expected_parent:
        os._exit(1)


def _emit(fd: int, event: dict[str, Any]) -> None:
    # One write per line, well under PIPE_BUF: lines from replicas never interleave.
    os.write(fd, (json.dumps(event) + "\n").encode())


class Zygote:
    def __init__(self, events_fd: int) -> None:
        self.events_fd = events_fd
        self.children: dict[int, str] = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)  # handled by the loop via wakeup fd
        self.stopping = False

    def run(self) -> None:
        buffer = b""
        stdin = sys.stdin.fileno()
        while True:
            readable, _, _ = select.select([stdin, self.wake_r], [], [], 1.0)
            if self.wake_r in readable:
                signals = os.read(self.wake_r, 512)
                self.reap()
                if signal.SIGTERM in signals:
                    break
            if stdin in readable:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    break  # the owner is gone
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    command = json.loads(line)
                    if command.get("op") == "stop":
                        self.stop()
                        return
                    if command.get("op") == "spawn":
                        self.spawn(command)
            self.reap()
        self.stop()

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.pop(pid, None)
            _emit(
                self.events_fd,
                {"ev": "exited", "pid": pid, "code": os.waitstatus_to_exitcode(status)},
            )

    def spawn(self, command: dict[str, Any]) -> None:
        from chaos.targets.shop.service import bind

        replica_id = command["id"]
        try:
            sock = bind(int(command.get("port") or 0))
        except OSError:
            try:
                sock = bind(0)  # the old port is taken: a new one, reported below
            except OSError as exc:
                _emit(self.events_fd, {"ev": "spawn_failed", "id": replica_id, "error": str(exc)})
                return
        port = sock.getsockname()[1]
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the replica
            try:
                self._become_replica(command, sock, zygote_pid)
            finally:
                os._exit(70)
        sock.close()
        self.children[pid] = replica_id
        _emit(self.events_fd, {"ev": "spawned", "id": replica_id, "pid": pid, "port": port})

    def _become_replica(self, command: dict[str, Any], sock: Any, zygote_pid: int) -> None:
        die_with_parent(signal.SIGKILL, zygote_pid)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        os.close(self.wake_r)
        os.close(self.wake_w)
        events_fd = os.dup(self.events_fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        log = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(devnull)
        os.close(log)
        from pathlib import Path

        from chaos.targets.shop.config import ServiceConfig
        from chaos.targets.shop.service import serve

        config = ServiceConfig.read(Path(command["config"]))
        replica_id = command["id"]
        print(f"{time.strftime('%H:%M:%S')} {replica_id} pid {os.getpid()} starting", flush=True)

        def ready() -> None:
            _emit(events_fd, {"ev": "ready", "id": replica_id, "pid": os.getpid()})

        serve(config, sock, ready)
        sys.stdout.flush()
        os._exit(0)

    def stop(self) -> None:
        for pid in list(self.children):
            _signal(pid, signal.SIGCONT)  # a paused replica cannot act on SIGTERM
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while self.children and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.02)
        for pid in list(self.children):
            _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_GRACE_S
        while self.children and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.02)
        _emit(self.events_fd, {"ev": "stopped"})


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def main() -> None:
    owner = os.getppid()
    die_with_parent(signal.SIGTERM, owner)
    # Everything a replica needs, imported once here and shared by every fork.
    from chaos.targets.shop import service  # noqa: F401
    from chaos.targets.shop.services import preload

    preload()
    # What uvicorn would otherwise import lazily in every replica.
    for module in (
        "uvicorn.protocols.http.httptools_impl",
        "uvicorn.protocols.http.h11_impl",
        "uvicorn.lifespan.on",
        "uvicorn.loops.uvloop",
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    events_fd = os.dup(sys.stdout.fileno())
    # Stray prints must not corrupt the event stream.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _emit(events_fd, {"ev": "loaded", "pid": os.getpid()})
    Zygote(events_fd).run()


if __name__ == "__main__":
    main()
