"""The supervisor: keeps every replica running the way a ReplicaSet would.

It drives the zygote (which forks the replicas), waits for each replica to report ready,
and when one exits for any reason other than a stop, starts it again after a backoff
(doubling up to a cap, reset once a replica stays up), on the same port if it is free.
Every restart is counted and appended to `supervisor.jsonl` in the state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INITIAL_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0
STABLE_AFTER_S = 10.0
ZYGOTE_LOAD_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
ZYGOTE_EXITED = "the zygote exited"


class SupervisorError(Exception):
    """The zygote or a replica could not be started."""


@dataclass
class Replica:
    service: str
    index: int
    config: Path
    log: Path
    pid: int = 0
    port: int = 0
    restarts: int = 0
    ready: bool = False
    became_ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> str:
        return f"{self.service}/{self.index}"


class Supervisor:
    def __init__(
        self,
        state_dir: Path,
        on_change: Callable[[Replica], None],
    ) -> None:
        self.state_dir = state_dir
        self.on_change = on_change
        self.replicas: list[Replica] = []
        self.stopping = False
        self._zygote: asyncio.subprocess.Process | None = None
        self._loaded = asyncio.Event()
        self._spawned: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._exited: dict[int, asyncio.Future[int]] = {}
        self._ready_pids: set[int] = set()
        self._early_exits: dict[int, int] = {}  # exits seen before their spawn was handled
        self._tasks: list[asyncio.Task] = []
        self._reader: asyncio.Task | None = None
        self._stopped = asyncio.Event()  # the zygote is gone for good
        self._lock = asyncio.Lock()
        self._ever_loaded = False
        self._revival: asyncio.Task | None = None
        self.zygote_restarts = 0

    async def start_zygote(self) -> None:
        log = open(self.state_dir / "logs" / "zygote.log", "ab")  # noqa: SIM115 - owned by the child
        try:
            self._zygote = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "chaos.targets.launcher.zygote",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                limit=1 << 20,
                # Its own session: a Ctrl-C meant for the owner must not reach the
                # replicas (they would exit, and be restarted, mid-shutdown).
                start_new_session=True,
            )
        finally:
            log.close()
        self._reader = asyncio.create_task(self._read_events())

    async def wait_loaded(self, timeout: float = ZYGOTE_LOAD_TIMEOUT_S) -> None:
        loaded = asyncio.create_task(self._loaded.wait())
        gone = asyncio.create_task(self._stopped.wait())
        try:
            await asyncio.wait({loaded, gone}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            loaded.cancel()
            gone.cancel()
        if not self._loaded.is_set():
            what = "exited while loading" if self._stopped.is_set() else "did not load in time"
            raise SupervisorError(self._failure(f"the zygote {what}"))

    def _failure(self, what: str) -> str:
        tail = _tail(self.state_dir / "logs" / "zygote.log")
        return f"{what}; zygote.log ends with:\n{tail}" if tail else what

    async def _read_events(self) -> None:
        zygote = self._zygote
        assert zygote is not None and zygote.stdout is not None
        while True:
            line = await zygote.stdout.readline()
            if not line:
                break
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("ev")
            if kind == "loaded":
                self._ever_loaded = True
                self._loaded.set()
            elif kind in ("spawned", "spawn_failed"):
                future = self._spawned.pop(event["id"], None)
                if future is not None and not future.done():
                    future.set_result(event)
            elif kind == "ready":
                self._ready_pids.add(event["pid"])
                for replica in self.replicas:
                    if replica.pid == event["pid"]:
                        replica.ready = True
                        replica.became_ready.set()
                        self.on_change(replica)
            elif kind == "exited":
                future = self._exited.get(event["pid"])
                if future is None:
                    self._early_exits[event["pid"]] = int(event["code"])
                elif not future.done():
                    future.set_result(int(event["code"]))
            elif kind == "stopped":
                self._stopped.set()
        # The zygote is gone: every replica died with it (they are told to by the kernel).
        self._loaded.clear()
        for future in self._exited.values():
            if not future.done():
                future.set_result(-1)
        for pending in self._spawned.values():
            if not pending.done():
                pending.set_result({"ev": "spawn_failed", "error": ZYGOTE_EXITED})
        if self._ever_loaded and not self.stopping:
            # Killed under us: start another; the replicas' keepers respawn through it.
            self.zygote_restarts += 1
            self._append_record({"service": "zygote", "pid": zygote.pid,
                                 "exit_code": await zygote.wait(),
                                 "restarts": self.zygote_restarts})  # fmt: skip
            self._revival = asyncio.create_task(self._revive())
        else:
            self._stopped.set()

    async def _revive(self) -> None:
        await asyncio.sleep(INITIAL_BACKOFF_S * 5)
        try:
            await self.start_zygote()
        except OSError:
            self._stopped.set()

    async def _spawn(self, replica: Replica) -> None:
        loop = asyncio.get_running_loop()
        command = {
            "op": "spawn",
            "id": replica.id,
            "config": str(replica.config),
            "port": replica.port,
            "log": str(replica.log),
        }
        while True:
            await self._loaded.wait()
            zygote = self._zygote
            assert zygote is not None and zygote.stdin is not None
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._spawned[replica.id] = future
            try:
                async with self._lock:
                    zygote.stdin.write((json.dumps(command) + "\n").encode())
                    await zygote.stdin.drain()
            except (ConnectionError, RuntimeError):
                self._spawned.pop(replica.id, None)
                await asyncio.sleep(INITIAL_BACKOFF_S)  # the zygote died: wait for the next
                continue
            event = await future
            if event["ev"] == "spawned":
                break
            if event.get("error") != ZYGOTE_EXITED:
                raise SupervisorError(f"{replica.id}: {event.get('error')}")
        replica.pid = int(event["pid"])
        replica.port = int(event["port"])
        replica.ready = replica.pid in self._ready_pids
        replica.became_ready.clear()
        if replica.ready:
            replica.became_ready.set()
        exited: asyncio.Future[int] = loop.create_future()
        if replica.pid in self._early_exits:
            exited.set_result(self._early_exits.pop(replica.pid))
        self._exited[replica.pid] = exited
        self.on_change(replica)

    def add(self, replica: Replica) -> None:
        self.replicas.append(replica)
        self._tasks.append(asyncio.create_task(self._keep(replica)))

    async def wait_ready(self, timeout: float) -> None:
        """Wait until every replica reported ready once; raise with the laggards."""
        waits = [replica.became_ready.wait() for replica in self.replicas]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            late = [r for r in self.replicas if not r.ready]
            detail = "\n".join(f"  {r.id} ({r.log}):\n{_tail(r.log)}" for r in late)
            raise SupervisorError(
                f"{len(late)} replica(s) not ready after {timeout:g} s:\n{detail}"
            ) from None
        for task in self._tasks:
            if task.done() and task.exception() is not None:
                raise SupervisorError(str(task.exception()))

    async def _keep(self, replica: Replica) -> None:
        backoff = INITIAL_BACKOFF_S
        while not self.stopping:
            started = time.monotonic()
            await self._spawn(replica)
            code = await self._exited[replica.pid]
            self._exited.pop(replica.pid, None)
            self._ready_pids.discard(replica.pid)
            replica.ready = False
            if self.stopping or self._stopped.is_set():
                self.on_change(replica)
                return  # stopping, or the zygote itself died (nothing left to fork from)
            replica.restarts += 1
            self._record(replica, code)
            self.on_change(replica)
            if time.monotonic() - started > STABLE_AFTER_S:
                backoff = INITIAL_BACKOFF_S
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _record(self, replica: Replica, code: int) -> None:
        self._append_record(
            {
                "service": replica.service,
                "index": replica.index,
                "pid": replica.pid,
                "exit_code": code,
                "restarts": replica.restarts,
            }
        )

    def _append_record(self, fields: dict[str, Any]) -> None:
        with open(self.state_dir / "supervisor.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"ts": time.time(), **fields}) + "\n")

    async def stop(self) -> None:
        self.stopping = True
        if self._revival is not None:
            self._revival.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._revival
        zygote = self._zygote
        if zygote is not None and zygote.returncode is None and zygote.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                zygote.stdin.write(b'{"op": "stop"}\n')
                await zygote.stdin.drain()
            try:
                await asyncio.wait_for(zygote.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                zygote.kill()
                await zygote.wait()
        for task in self._tasks:
            task.cancel()
        for task in [*self._tasks, *([self._reader] if self._reader else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2.0)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])
