"""Process faults on the local mesh's replicas: kill some of them, or pause them (a hang).

Replica pids come from the mesh state file, which the supervisor rewrites when it restarts
a replica. A pid is only ever signalled if that process descends from the mesh's owner
(the supervisor), so a stale state file can never make us signal an unrelated process.

Kills need no undo (the supervisor restarts replicas, as a ReplicaSet would) and are not
ledgered. A pause is: its intent (with `resume_replicas` as the undo) is written before
SIGSTOP, and a detached watchdog resumes the replicas when `ttl_s` passes even if the runner
died, so a paused process is never left behind.
"""

from __future__ import annotations

import math
import random
import signal as signals
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import psutil

from chaos.faults import expiry
from chaos.faults.errors import InvalidFaultArgument, TargetNotFound
from chaos.faults.locate import find_mesh_state
from chaos.faults.undo_on_failure import undone_or_outstanding
from chaos.safety.ledger import (
    LedgerEntry,
    UndoSpec,
    find_ledger,
    run_dir_of,
)

__all__ = ["kill_replicas", "pause_replicas", "resume_replicas"]

DEFAULT_PAUSE_TTL_S = 60.0
MAX_TTL_S = 24 * 3600.0
EXIT_WAIT_S = 5.0
Configuration = Mapping[str, Any] | None
KillSignal = Literal["SIGKILL", "SIGTERM"]


def _choose(
    service: str,
    count: int | None,
    percent: float | None,
    seed: int | None,
    configuration: Configuration,
) -> tuple[list[psutil.Process], int, list[int]]:
    """The replica processes to act on (verified to belong to the mesh), how many replicas
    the service has, and the pids listed but not running (dead, awaiting their restart)."""
    if (count is None) == (percent is None):
        raise InvalidFaultArgument("give exactly one of `count` or `percent`")
    state = find_mesh_state(configuration)
    if service not in state.services:
        raise TargetNotFound(
            f"no service {service!r} in the mesh (services: {sorted(state.services)})"
        )
    replicas = list(state.services[service].replicas)
    total = len(replicas)
    if count is not None:
        if not 1 <= count <= total:
            raise InvalidFaultArgument(
                f"count must be between 1 and the {total} replicas of {service}, not {count}"
            )
        wanted = count
    else:
        assert percent is not None
        if not 0 < percent <= 100:
            raise InvalidFaultArgument(f"percent must be > 0 and <= 100, not {percent}")
        wanted = max(1, math.ceil(total * percent / 100))
    running: list[tuple[int, psutil.Process]] = []
    down: list[int] = []
    for replica in replicas:
        process = _mesh_process(state.owner_pid, service, replica.pid)
        if process is None:
            down.append(replica.pid)
        else:
            running.append((replica.index, process))
    # A replica that is down already counts as hit: kill 100% means every replica down.
    wanted = max(0, wanted - len(down))
    chosen = sorted(random.Random(seed).sample(running, min(wanted, len(running))))
    return [process for _, process in chosen], total, down


def _mesh_process(owner_pid: int, service: str, pid: int) -> psutil.Process | None:
    """The replica's process, or None if it is not running (e.g. between its death and its
    restart). Raises `TargetNotFound` for a live process that is not the mesh's."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        ancestors = {parent.pid for parent in process.parents()}
    except psutil.NoSuchProcess:
        return None
    if owner_pid not in ancestors:
        raise TargetNotFound(
            f"pid {pid} listed for {service} is not a child of the mesh (owner pid "
            f"{owner_pid}); refusing to signal it (is the mesh state stale?)"
        )
    return process


def kill_replicas(
    service: str,
    count: int | None = None,
    percent: float | None = None,
    signal: KillSignal = "SIGKILL",
    seed: int | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Kill `count` (or `percent`% rounded up) of `service`'s replicas, chosen at random
    (`seed` makes the choice repeatable), with SIGKILL or SIGTERM. Replicas already down
    (dead, awaiting their restart) count towards the number (`already_down`). Waits up to
    5 s for the killed ones to exit (`still_running` lists any that did not). No undo: the
    mesh's supervisor restarts them."""
    if signal not in ("SIGKILL", "SIGTERM"):
        raise InvalidFaultArgument(f"signal must be 'SIGKILL' or 'SIGTERM', not {signal!r}")
    processes, total, down = _choose(service, count, percent, seed, configuration)
    killed: list[int] = []
    for process in processes:
        try:
            process.send_signal(getattr(signals, signal))
            killed.append(process.pid)
        except psutil.NoSuchProcess:
            continue  # it died on its own in the meantime; the effect is the same
    return {
        "service": service,
        "signal": signal,
        "replicas": total,
        "killed": killed,
        "already_down": down,
        "still_running": _wait_gone(processes, EXIT_WAIT_S),
    }


def _wait_gone(processes: list[psutil.Process], timeout_s: float) -> list[int]:
    """Pids still running after `timeout_s`. Never reaps (no `wait`): the replicas are the
    supervisor's children and their exit status is the supervisor's to collect."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [p.pid for p in processes if _running(p)]
        if not alive or time.monotonic() >= deadline:
            return sorted(alive)
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pause_replicas(
    service: str,
    count: int | None = None,
    percent: float | None = None,
    ttl_s: float = DEFAULT_PAUSE_TTL_S,
    seed: int | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Freeze `count` (or `percent`%) of `service`'s replicas with SIGSTOP: they keep their
    sockets but answer nothing (a hang). Resumed by `resume_replicas`, or by a watchdog
    when `ttl_s` passes."""
    if not 0 < ttl_s <= MAX_TTL_S:
        raise InvalidFaultArgument(f"ttl_s must be > 0 and <= {MAX_TTL_S:.0f}, not {ttl_s}")
    processes, total, _ = _choose(service, count, percent, seed, configuration)
    if not processes:
        raise TargetNotFound(f"no running replica of {service} to pause")
    records = [{"pid": p.pid, "create_time": p.create_time()} for p in processes]
    ledger = find_ledger(configuration)
    entry = ledger.record_intent(
        "process.pause",
        f"{service}[{','.join(str(r['pid']) for r in records)}]",
        UndoSpec(module=__name__, func="resume_replicas", arguments={"processes": records}),
        expires_at=time.time() + ttl_s,
        run_dir=run_dir_of(configuration),
    )
    # Armed before the first SIGSTOP, like the ledger intent: a runner killed at any moment
    # from here on still has its pause lifted at the TTL, and if the undo below fails, the
    # watchdog retries it then.
    expiry.arm(ledger, entry)
    try:
        for process in processes:
            process.suspend()
    except Exception as exc:
        raise undone_or_outstanding(ledger, entry, f"pausing {service}", exc) from exc
    ledger.mark(entry, "applied")
    return {
        "ledger_id": entry.id,
        "service": service,
        "replicas": total,
        "paused": [r["pid"] for r in records],
        "expires_at": entry.expires_at,
    }


def _same_process(record: Mapping[str, Any]) -> psutil.Process | None:
    """The recorded process if it is still the same one (pids get reused)."""
    try:
        process = psutil.Process(int(record["pid"]))
        if abs(process.create_time() - float(record["create_time"])) > 0.01:
            return None
        return process
    except psutil.NoSuchProcess:
        return None


def resume_replicas(
    processes: list[dict[str, Any]] | None = None,
    service: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of `pause_replicas`: SIGCONT the recorded `processes` (`[{pid, create_time}]`,
    skipping any that exited or whose pid was reused) or every replica of `service`.
    Idempotent."""
    if (processes is None) == (service is None):
        raise InvalidFaultArgument("give exactly one of `processes` or `service`")
    if service is not None:
        state = find_mesh_state(configuration)
        if service not in state.services:
            raise TargetNotFound(f"no service {service!r} in the mesh")
        listed = state.services[service].replicas
        found = (_mesh_process(state.owner_pid, service, replica.pid) for replica in listed)
        targets = [process for process in found if process is not None]
    else:
        assert processes is not None
        targets = [p for p in (_same_process(record) for record in processes) if p is not None]
    resumed: list[int] = []
    for process in targets:
        try:
            process.resume()
            resumed.append(process.pid)
        except psutil.NoSuchProcess:
            continue
    find_ledger(configuration).settle(_nothing_left_paused, "undone")
    return {"resumed": resumed}


def _nothing_left_paused(entry: LedgerEntry) -> bool:
    """A pause entry whose processes are all running again (or gone) is settled."""
    return _undone_for_every_process(entry, __name__, "resume_replicas", _running_again)


def _running_again(process: psutil.Process, _record: Mapping[str, Any]) -> bool:
    return process.status() != psutil.STATUS_STOPPED


def _undone_for_every_process(
    entry: LedgerEntry,
    module: str,
    func: str,
    undone: Callable[[psutil.Process, Mapping[str, Any]], bool],
) -> bool:
    """`entry`'s undo is `module.func` and `undone` holds for each recorded process that is
    still the same one; a process gone meanwhile has nothing left to undo."""
    if entry.undo.module != module or entry.undo.func != func:
        return False
    for record in entry.undo.arguments.get("processes") or []:
        process = _same_process(record)
        if process is None:
            continue
        try:
            if not undone(process, record):
                return False
        except psutil.NoSuchProcess:
            continue
    return True
