"""Resource faults: limits on real child processes that stand in for replicas, and a full
disk on the real mesh's orders replicas (slow)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from chaos.engine.k8s_mapping import NoEquivalent, equivalent
from chaos.faults import expiry, throttle
from chaos.faults.errors import FaultNotApplied, InvalidFaultArgument, TargetNotFound
from chaos.faults.resources import (
    fill_disk,
    limit_memory,
    restore_limits,
    throttle_cpu,
    unthrottle_cpu,
)
from chaos.safety.ledger import Ledger, undo_entry, undo_outstanding
from chaos.targets.launcher import start_mesh
from chaos.targets.shop.invariants import check_invariants

# A stand-in replica: answers one command per line ("alloc N", "grow PATH") with "ok" or
# the name of the error it hit; "spin S" burns S seconds of CPU and answers the wall time.
REPLICA = """
import sys, time
for line in sys.stdin:
    command, arg = line.split()
    try:
        if command == "spin":  # burn `arg` seconds of CPU; answer the wall time it took
            started, cpu_start = time.monotonic(), time.process_time()
            while time.process_time() - cpu_start < float(arg):
                pass
            print(time.monotonic() - started, flush=True)
            continue
        if command == "alloc":
            block = bytearray(int(arg))
            del block
        else:
            with open(arg, "ab") as f:
                f.write(b"x" * 4096)
        print("ok", flush=True)
    except MemoryError:
        print("MemoryError", flush=True)
    except OSError as exc:
        print(f"OSError:{exc.errno}", flush=True)
"""


class Replica:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", REPLICA],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAMEDAY_LEDGER", raising=False)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Replica]]:
    started = [Replica() for _ in range(2)]
    try:
        yield started
    finally:
        for replica in started:
            replica.close()


@pytest.fixture
def cfg(tmp_path: Path, replicas: list[Replica]) -> Iterator[dict[str, str]]:
    state = tmp_path / "mesh.json"
    state.write_text(
        json.dumps(
            {
                "owner_pid": os.getpid(),
                "started_at": datetime.now(UTC).isoformat(),
                "state_dir": str(tmp_path),
                "topology": str(tmp_path / "topology.yaml"),
                "proxy_api": "http://127.0.0.1:1",
                "gateway_url": "http://127.0.0.1:2",
                "services": {
                    "orders": {
                        "address": "127.0.0.1:3000",
                        "replicas": [
                            {"index": i, "pid": r.pid, "port": 4000 + i, "restarts": 0}
                            for i, r in enumerate(replicas)
                        ],
                    }
                },
                "edges": {},
            }
        )
    )
    cfg = {"gameday_mesh_state": str(state), "gameday_ledger": str(tmp_path / "ledger.jsonl")}
    try:
        yield cfg
    finally:
        undo_outstanding(Ledger(cfg["gameday_ledger"]))
        for proc in expiry.running_watchdogs() + throttle.running_throttlers():
            proc.wait(10)


def _soft(pid: int, resource: int) -> int:
    return psutil.Process(pid).rlimit(resource)[0]


def test_limit_memory_makes_allocations_fail_until_undone(
    replicas: list[Replica], cfg: dict[str, str]
) -> None:
    big = str(256 * 1024 * 1024)
    assert [r.ask(f"alloc {big}") for r in replicas] == ["ok", "ok"]
    mapped = max(psutil.Process(r.pid).memory_info().vms for r in replicas)
    result = limit_memory("orders", bytes=mapped + 64 * 1024 * 1024, count=1, seed=1,
                          ttl_s=60, configuration=cfg)  # fmt: skip
    (limited,) = [r for r in replicas if r.pid in result["pids"]]
    (other,) = [r for r in replicas if r is not limited]
    assert limited.ask(f"alloc {big}") == "MemoryError"
    assert limited.ask("alloc 1024") == "ok"  # small allocations still fit
    assert other.ask(f"alloc {big}") == "ok"

    ledger = Ledger(cfg["gameday_ledger"])
    (entry,) = ledger.outstanding()
    assert entry.kind == "process.limit_memory"
    undo_entry(entry, ledger)
    assert ledger.outstanding() == []
    assert _soft(limited.pid, psutil.RLIMIT_AS) == psutil.RLIM_INFINITY
    assert limited.ask(f"alloc {big}") == "ok"


def test_a_limit_that_fails_part_way_never_claims_an_undo_that_failed(
    replicas: list[Replica], cfg: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rlimit = psutil.Process.rlimit
    lowered: list[int] = []

    def lower_once(self: psutil.Process, resource: int, limits: Any = None) -> Any:
        if limits is None:
            return real_rlimit(self, resource)
        if lowered:
            raise psutil.AccessDenied(self.pid)
        lowered.append(self.pid)
        return real_rlimit(self, resource, limits)

    def restore_refused(**_: object) -> None:
        raise PermissionError("restore refused")

    monkeypatch.setattr(psutil.Process, "rlimit", lower_once)
    monkeypatch.setattr("chaos.faults.resources.restore_limits", restore_refused)
    with pytest.raises(FaultNotApplied) as failure:
        limit_memory("orders", bytes=512 * 1024 * 1024, count=2, ttl_s=60, configuration=cfg)
    message = str(failure.value)
    assert "undo failed too" in message and "was undone" not in message
    (entry,) = Ledger(cfg["gameday_ledger"]).outstanding()
    assert entry.id in message and entry.kind == "process.limit_memory"
    assert _soft(lowered[0], psutil.RLIMIT_AS) == 512 * 1024 * 1024  # honestly still limited
    monkeypatch.undo()  # the fixture's cleanup restores the limit with the real undo


def test_fill_disk_fails_writes_with_efbig_until_undone(
    replicas: list[Replica], cfg: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "data.db"
    assert replicas[0].ask(f"grow {target}") == "ok"
    result = fill_disk("orders", ttl_s=60, configuration=cfg)
    assert sorted(result["pids"]) == sorted(r.pid for r in replicas)
    assert [r.ask(f"grow {target}") for r in replicas] == [f"OSError:{errno.EFBIG}"] * 2
    restore_limits(**Ledger(cfg["gameday_ledger"]).outstanding()[0].undo.arguments,
                   configuration=cfg)  # fmt: skip
    assert Ledger(cfg["gameday_ledger"]).outstanding() == []
    assert [r.ask(f"grow {target}") for r in replicas] == ["ok", "ok"]
    assert target.stat().st_size == 3 * 4096


def test_a_limit_is_restored_by_its_watchdog_at_the_ttl(
    replicas: list[Replica], cfg: dict[str, str]
) -> None:
    fill_disk("orders", count=1, seed=0, ttl_s=1, configuration=cfg)
    deadline = time.monotonic() + 30
    ledger = Ledger(cfg["gameday_ledger"])
    while ledger.outstanding() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ledger.outstanding() == []
    assert all(_soft(r.pid, psutil.RLIMIT_FSIZE) == psutil.RLIM_INFINITY for r in replicas)
    (line,) = [e for e in ledger.entries() if e.kind == "process.fill_disk"]
    assert line.status == "expired"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda cfg: limit_memory("orders", bytes=0, configuration=cfg),
         InvalidFaultArgument, "bytes must be > 0"),
        (lambda cfg: fill_disk("orders", ttl_s=0, configuration=cfg),
         InvalidFaultArgument, "ttl_s must be > 0"),
        (lambda cfg: fill_disk("nope", configuration=cfg), TargetNotFound, "no service 'nope'"),
    ],
)  # fmt: skip
def test_bad_arguments_change_nothing(
    replicas: list[Replica], cfg: dict[str, str], call: Any, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        call(cfg)
    assert (
        not Ledger(cfg["gameday_ledger"]).path.exists()
        or not Ledger(cfg["gameday_ledger"]).outstanding()
    )
    assert all(_soft(r.pid, psutil.RLIMIT_FSIZE) == psutil.RLIM_INFINITY for r in replicas)


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Any]:
    with start_mesh(state_dir=tmp_path / "mesh") as handle:
        yield handle


def _checkout(shop: httpx.Client, acks: Path) -> httpx.Response:
    key = str(uuid.uuid4())
    response = shop.post(
        "/checkout",
        json={"items": [{"product_id": 1, "quantity": 1}]},
        headers={"Idempotency-Key": key},
    )
    if response.status_code == 201:
        order = response.json()
        with acks.open("a") as f:
            f.write(json.dumps({"order_id": order["order_id"], "idempotency_key": key}) + "\n")
    return response


@pytest.mark.slow
def test_a_full_disk_fails_order_writes_and_loses_no_acknowledged_order(
    mesh: Any, tmp_path: Path
) -> None:
    cfg = {"gameday_mesh_state": str(mesh.state_file), "gameday_ledger": str(tmp_path / "l")}
    acks = tmp_path / "acks.jsonl"
    with httpx.Client(base_url=mesh.state.gateway_url, timeout=30) as shop:
        assert _checkout(shop, acks).status_code == 201
        fill_disk("orders", ttl_s=120, configuration=cfg)
        try:
            refused = _checkout(shop, acks)
        finally:
            undo_outstanding(Ledger(cfg["gameday_ledger"]))
        # The orders replicas could not write the order: they answered 500, the gateway
        # (after its retry) says so.
        assert refused.status_code == 503
        assert "orders" in refused.text and "500" in refused.text
        assert _checkout(shop, acks).status_code == 201
    report = check_invariants(mesh.state, acks)
    assert report.ok, report.checks
    assert report.acknowledged == 2
    for proc in expiry.running_watchdogs():
        proc.wait(10)


def _stopped(pid: int) -> bool:
    return psutil.Process(pid).status() == psutil.STATUS_STOPPED


def test_throttle_cpu_gives_a_replica_only_its_share_until_undone(
    replicas: list[Replica], cfg: dict[str, str]
) -> None:
    replica = replicas[0]
    replica.ask("spin 0.05")  # warm
    result = throttle_cpu("orders", cpu_percent=25, period_ms=100, count=2, configuration=cfg)
    assert result["kind"] == "throttle_cpu" and sorted(result["pids"]) == sorted(
        r.pid for r in replicas
    )
    # 0.4 s of CPU at 25 % of wall time takes 1.6 s; the bound allows the duty cycle to
    # drift to 33 % on a loaded machine (unthrottled it takes 0.4 s). No upper bound: the
    # machine may be busy.
    wall_s = float(replica.ask("spin 0.4"))
    assert wall_s >= 0.4 / 0.33
    ledger = Ledger(cfg["gameday_ledger"])
    (entry,) = ledger.outstanding()
    unthrottle_cpu(**entry.undo.arguments, configuration=cfg)
    assert ledger.outstanding() == []
    assert not Path(entry.undo.arguments["pid_file"]).exists()
    assert not any(_stopped(r.pid) for r in replicas)
    assert throttle.running_throttlers() == []  # the throttler exited (and was reaped)


def test_a_throttle_ends_at_its_ttl_with_every_replica_running(
    replicas: list[Replica], cfg: dict[str, str]
) -> None:
    throttle_cpu("orders", cpu_percent=10, period_ms=50, ttl_s=1, configuration=cfg)
    ledger = Ledger(cfg["gameday_ledger"])
    deadline = time.monotonic() + 30
    while ledger.outstanding() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ledger.outstanding() == []
    (entry,) = ledger.entries()
    assert entry.status == "expired"
    deadline = time.monotonic() + 10
    while throttle.running_throttlers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert throttle.running_throttlers() == []
    assert not any(_stopped(r.pid) for r in replicas)
    assert float(replicas[0].ask("spin 0.01")) < 5  # it answers: not left stopped


def test_a_throttle_whose_ttl_ends_before_the_throttler_starts_is_expired_not_a_failure(
    replicas: list[Replica], cfg: dict[str, str]
) -> None:
    # The throttler needs a Python start-up; a TTL shorter than that has passed when it
    # starts, so it ends at once: the fault ran its course, it did not fail.
    result = throttle_cpu("orders", cpu_percent=10, period_ms=50, ttl_s=0.05, configuration=cfg)
    ledger = Ledger(cfg["gameday_ledger"])
    deadline = time.monotonic() + 30
    while ledger.outstanding() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ledger.get(result["ledger_id"]).status == "expired"
    assert not any(_stopped(r.pid) for r in replicas)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"cpu_percent": 0}, "cpu_percent must be > 0 and < 100"),
     ({"cpu_percent": 100}, "cpu_percent must be > 0 and < 100"),
     ({"cpu_percent": 50, "period_ms": 5}, "period_ms must be 10-10000")],
)  # fmt: skip
def test_bad_throttle_arguments_change_nothing(
    replicas: list[Replica], cfg: dict[str, str], arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidFaultArgument, match=message):
        throttle_cpu("orders", configuration=cfg, **arguments)
    assert throttle.running_throttlers() == []
    assert not Path(cfg["gameday_ledger"]).exists()


@pytest.mark.parametrize("func", ["throttle_cpu", "limit_memory", "fill_disk"])
def test_resource_faults_are_refused_on_kubernetes(func: str) -> None:
    with pytest.raises(NoEquivalent, match="exec, which the runner's RBAC does not grant"):
        equivalent("chaos.faults.resources", func)
