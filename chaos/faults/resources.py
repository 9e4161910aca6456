"""Resource faults on the local mesh's replicas: memory and disk exhaustion through the
replicas' own resource limits (`prlimit`), CPU starvation by duty-cycled SIGSTOP/SIGCONT.

- `limit_memory`: the replica's address-space limit (RLIMIT_AS) is lowered to `bytes`, so
  its next allocations beyond that fail (MemoryError in Python);
- `fill_disk`: its file-size limit (RLIMIT_FSIZE) is lowered to 0, so every write that
  would grow a file fails with EFBIG, as on a full disk (Python ignores SIGXFSZ);
- `throttle_cpu`: a detached throttler lets the replica run `cpu_percent` of each
  `period_ms` and stops it for the rest (`chaos.faults.throttle`).

Only the soft limit is changed (an unprivileged process can raise a soft limit back up to
its hard limit, but can never raise a hard one), so `restore_limits` can always undo it.
Each fault writes its ledger intent with the undo before it acts, and a detached watchdog
(or the throttler itself) undoes it when `ttl_s` passes even if the runner died.
Replicas are chosen and verified like the process faults' (`chaos.faults.process`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil

from chaos.faults import expiry, throttle
from chaos.faults.errors import InvalidFaultArgument, TargetNotFound
from chaos.faults.process import (
    MAX_TTL_S,
    Configuration,
    _choose,
    _running_again,
    _same_process,
    _undone_for_every_process,
)
from chaos.faults.undo_on_failure import undone_or_outstanding
from chaos.safety.ledger import (
    Ledger,
    LedgerEntry,
    UndoSpec,
    find_ledger,
    run_dir_of,
)

__all__ = ["fill_disk", "limit_memory", "restore_limits", "throttle_cpu", "unthrottle_cpu"]

DEFAULT_TTL_S = 60.0
LIMITS = {"AS": psutil.RLIMIT_AS, "FSIZE": psutil.RLIMIT_FSIZE}


def _targets(
    service: str,
    count: int | None,
    percent: float | None,
    ttl_s: float,
    seed: int | None,
    configuration: Configuration,
) -> list[psutil.Process]:
    if not 0 < ttl_s <= MAX_TTL_S:
        raise InvalidFaultArgument(f"ttl_s must be > 0 and <= {MAX_TTL_S:.0f}, not {ttl_s}")
    if count is None and percent is None:
        percent = 100.0
    processes, _, _ = _choose(service, count, percent, seed, configuration)
    if not processes:
        raise TargetNotFound(f"no running replica of {service} to limit")
    return processes


@contextmanager
def _applied_or_undone(ledger: Ledger, entry: LedgerEntry, fault: str) -> Iterator[None]:
    """The block applies `fault`: its entry is marked applied when the block ends, undone
    when it raises."""
    try:
        yield
    except Exception as exc:
        raise undone_or_outstanding(ledger, entry, fault, exc) from exc
    finally:
        # Armed in every case: if the undo above failed, the watchdog retries at the TTL,
        # and if a throttler dies, the watchdog still undoes its fault then.
        expiry.arm(ledger, entry)
    # A fault that has already run its course (expired or undone by its own helper) keeps
    # its settled status: marking it applied now would make it outstanding again.
    if ledger.get(entry.id).status == "intent":
        ledger.mark(entry, "applied")


def _set_soft_limits(
    kind: str,
    resource: str,
    soft: int,
    service: str,
    processes: list[psutil.Process],
    ttl_s: float,
    configuration: Configuration,
) -> dict[str, Any]:
    """Ledger intent (undo: restore_limits with the current limits) → lower each soft
    limit to `soft` (never above the hard limit) → applied; a watchdog restores at TTL."""
    records = []
    for process in processes:
        old_soft, old_hard = process.rlimit(LIMITS[resource])
        records.append(
            {
                "pid": process.pid,
                "create_time": process.create_time(),
                "resource": resource,
                "soft": old_soft,
                "hard": old_hard,
            }
        )
    ledger = find_ledger(configuration)
    entry = ledger.record_intent(
        f"process.{kind}",
        f"{service}[{','.join(str(r['pid']) for r in records)}]",
        UndoSpec(module=__name__, func="restore_limits", arguments={"processes": records}),
        expires_at=time.time() + ttl_s,
        run_dir=run_dir_of(configuration),
    )
    with _applied_or_undone(ledger, entry, f"{kind} on {service}"):
        for process, record in zip(processes, records, strict=True):
            hard = record["hard"]
            limit = soft if hard == psutil.RLIM_INFINITY else min(soft, hard)
            process.rlimit(LIMITS[resource], (limit, hard))
    return {
        "ledger_id": entry.id,
        "kind": kind,
        "target": entry.target,
        "service": service,
        "pids": [r["pid"] for r in records],
        "limit": soft,
        "expires_at": entry.expires_at,
    }


def limit_memory(
    service: str,
    bytes: int,
    count: int | None = None,
    percent: float | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    seed: int | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Lower the address-space limit (RLIMIT_AS) of `count` or `percent`% (default all) of
    `service`'s replicas to `bytes`: allocations beyond it fail. A limit below what a
    replica has mapped already makes its next allocation fail. Undo: restore_limits."""
    if bytes <= 0:
        raise InvalidFaultArgument(f"bytes must be > 0, not {bytes}")
    processes = _targets(service, count, percent, ttl_s, seed, configuration)
    return _set_soft_limits(
        "limit_memory", "AS", int(bytes), service, processes, ttl_s, configuration
    )


def fill_disk(
    service: str,
    count: int | None = None,
    percent: float | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    seed: int | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Make every write that grows a file fail with EFBIG in `count` or `percent`% (default
    all) of `service`'s replicas, as on a full disk (file-size limit RLIMIT_FSIZE of 0).
    Reads and rewrites within a file's size still work. Undo: restore_limits."""
    processes = _targets(service, count, percent, ttl_s, seed, configuration)
    return _set_soft_limits("fill_disk", "FSIZE", 0, service, processes, ttl_s, configuration)


def restore_limits(
    processes: list[dict[str, Any]], configuration: Configuration = None
) -> dict[str, Any]:
    """Undo of `limit_memory` and `fill_disk`: give each recorded process (`[{pid,
    create_time, resource, soft, hard}]`) its soft limit back, skipping any that exited or
    whose pid was reused. Idempotent."""
    restored: list[int] = []
    for record in processes:
        process = _same_process(record)
        if process is None:
            continue
        with suppress(psutil.NoSuchProcess):
            resource = LIMITS[str(record["resource"])]
            _, hard = process.rlimit(resource)
            process.rlimit(resource, (min(int(record["soft"]), hard), hard))
            restored.append(process.pid)
    find_ledger(configuration).settle(_limits_restored, "undone")
    return {"restored": restored}


def _limits_restored(entry: LedgerEntry) -> bool:
    """A limit entry whose processes all have their recorded soft limit (or are gone)."""
    return _undone_for_every_process(entry, __name__, "restore_limits", _has_recorded_limit)


def _has_recorded_limit(process: psutil.Process, record: Mapping[str, Any]) -> bool:
    soft, _ = process.rlimit(LIMITS[str(record["resource"])])
    return bool(soft == record["soft"])


# -- CPU ------------------------------------------------------------------------------

THROTTLER_START_S = 10.0
THROTTLER_STOP_S = 5.0


def throttle_cpu(
    service: str,
    cpu_percent: float,
    period_ms: int = 100,
    count: int | None = None,
    percent: float | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    seed: int | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Starve `count` or `percent`% (default all) of `service`'s replicas of CPU: a
    detached throttler lets each run `cpu_percent` % of every `period_ms` and stops it
    (SIGSTOP) for the rest, so a CPU-bound request takes at least 100/`cpu_percent` times
    as long. Undo: unthrottle_cpu (the throttler also undoes it when `ttl_s` passes)."""
    if not 0 < cpu_percent < 100:
        raise InvalidFaultArgument(f"cpu_percent must be > 0 and < 100, not {cpu_percent}")
    if not 10 <= period_ms <= 10_000:
        raise InvalidFaultArgument(f"period_ms must be 10-10000, not {period_ms}")
    processes = _targets(service, count, percent, ttl_s, seed, configuration)
    records = [{"pid": p.pid, "create_time": p.create_time()} for p in processes]
    ledger = find_ledger(configuration)
    ledger.path.parent.mkdir(parents=True, exist_ok=True)
    pid_file = ledger.path.resolve().parent / f"throttle-{uuid.uuid4().hex}.pid"
    entry = ledger.record_intent(
        "process.throttle_cpu",
        f"{service}[{','.join(str(r['pid']) for r in records)}] {cpu_percent:g}% CPU",
        UndoSpec(
            module=__name__,
            func="unthrottle_cpu",
            arguments={"processes": records, "pid_file": str(pid_file)},
        ),
        expires_at=time.time() + ttl_s,
        run_dir=run_dir_of(configuration),
    )
    with _applied_or_undone(ledger, entry, f"throttle_cpu on {service}"):
        proc = throttle.start(ledger, entry, cpu_percent, period_ms)
        deadline = time.monotonic() + THROTTLER_START_S
        while not pid_file.exists():
            code = proc.poll()
            if code == 0:
                break  # it ran and has already ended: a TTL shorter than its start-up
            if code is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the CPU throttler did not start (exit {code})")
            time.sleep(0.02)
    return {
        "ledger_id": entry.id,
        "kind": "throttle_cpu",
        "target": entry.target,
        "service": service,
        "pids": [r["pid"] for r in records],
        "cpu_percent": cpu_percent,
        "period_ms": period_ms,
        "expires_at": entry.expires_at,
    }


def _stop_throttler(pid_file: Path) -> None:
    """SIGTERM the throttler named by `pid_file` (if it is still that process) and wait."""
    try:
        pid_text, created = pid_file.read_text().split()
        process = psutil.Process(int(pid_text))
        if process.pid == os.getpid() or abs(process.create_time() - float(created)) > 0.01:
            return
        process.terminate()
        psutil.wait_procs([process], timeout=THROTTLER_STOP_S)
    except (OSError, ValueError, psutil.NoSuchProcess):
        return


def unthrottle_cpu(
    processes: list[dict[str, Any]],
    pid_file: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of `throttle_cpu`: stop its throttler (`pid_file`) and SIGCONT the recorded
    `processes` (`[{pid, create_time}]`), skipping any that exited or whose pid was
    reused. Idempotent."""
    if pid_file:
        _stop_throttler(Path(pid_file))
    resumed: list[int] = []
    for record in processes:
        process = _same_process(record)
        if process is None:
            continue
        with suppress(psutil.NoSuchProcess):
            process.resume()
            resumed.append(process.pid)
    find_ledger(configuration).settle(_unthrottled, "undone")
    return {"resumed": resumed}


def _unthrottled(entry: LedgerEntry) -> bool:
    """A throttle entry with no throttler left and none of its processes stopped."""
    if not _undone_for_every_process(entry, __name__, "unthrottle_cpu", _running_again):
        return False
    pid_file = entry.undo.arguments.get("pid_file")
    return not (pid_file and Path(pid_file).exists())
