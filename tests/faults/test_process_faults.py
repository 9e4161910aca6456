"""Process faults against real child processes that stand in for a service's replicas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from chaos.faults import expiry
from chaos.faults.errors import (
    FaultNotApplied,
    InvalidFaultArgument,
    TargetNotFound,
    TargetUnknown,
)
from chaos.faults.process import kill_replicas, pause_replicas, resume_replicas
from chaos.safety.ledger import Ledger, undo_entry, undo_outstanding

SLEEPER = "import time\nfor _ in range(600):\n    time.sleep(0.1)\n"


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Undos called without configuration fall back to ./.gameday/ledger.jsonl.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAMEDAY_LEDGER", raising=False)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [subprocess.Popen([sys.executable, "-c", SLEEPER]) for _ in range(4)]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, 18)  # SIGCONT first: a stopped process ignores SIGTERM
                proc.kill()
            proc.wait(10)


def write_state(path: Path, services: dict[str, list[int]], owner_pid: int) -> None:
    state = {
        "owner_pid": owner_pid,
        "started_at": datetime.now(UTC).isoformat(),
        "state_dir": str(path.parent),
        "topology": str(path.parent / "topology.yaml"),
        "proxy_api": "http://127.0.0.1:1",
        "gateway_url": "http://127.0.0.1:2",
        "services": {
            name: {
                "address": f"127.0.0.1:{3000 + n}",
                "replicas": [
                    {"index": i, "pid": pid, "port": 4000 + 10 * n + i, "restarts": 0}
                    for i, pid in enumerate(pids)
                ],
            }
            for n, (name, pids) in enumerate(services.items())
        },
        "edges": {},
    }
    path.write_text(json.dumps(state))


@pytest.fixture
def cfg(tmp_path: Path, replicas: list[subprocess.Popen[bytes]]) -> Iterator[dict[str, str]]:
    state = tmp_path / "mesh.json"
    write_state(
        state,
        {"catalog": [p.pid for p in replicas[:3]], "payments": [replicas[3].pid]},
        os.getpid(),
    )
    cfg = {"gameday_mesh_state": str(state), "gameday_ledger": str(tmp_path / "ledger.jsonl")}
    try:
        yield cfg
    finally:
        # Resume whatever a failed test left paused, so that its watchdog exits; reap it.
        undo_outstanding(Ledger(cfg["gameday_ledger"]))
        for proc in expiry.running_watchdogs():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def status(pid: int) -> str:
    try:
        return psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return "gone"


def wait_status(pid: int, wanted: set[str], timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    current = status(pid)
    while current not in wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        current = status(pid)
    return current


def test_kill_count_with_sigkill(replicas: list[subprocess.Popen[bytes]], cfg: dict) -> None:
    result = kill_replicas("catalog", count=2, seed=1, configuration=cfg)
    assert len(result["killed"]) == 2 and result["replicas"] == 3
    assert result["still_running"] == []
    killed = [p for p in replicas[:3] if p.pid in result["killed"]]
    survivor = [p for p in replicas[:3] if p.pid not in result["killed"]]
    assert [p.wait(10) for p in killed] == [-9, -9]
    assert len(survivor) == 1 and survivor[0].poll() is None
    assert replicas[3].poll() is None  # another service is untouched


def test_kill_percent_with_sigterm_rounds_up(replicas, cfg) -> None:
    result = kill_replicas("catalog", percent=34, signal="SIGTERM", configuration=cfg)
    assert len(result["killed"]) == 2  # 34% of 3 replicas rounds up to 2
    codes = [p.wait(10) for p in replicas if p.pid in result["killed"]]
    assert codes == [-15, -15]


def test_kill_misuse_and_unknown_targets(replicas, cfg, tmp_path: Path) -> None:
    with pytest.raises(InvalidFaultArgument, match="exactly one of"):
        kill_replicas("catalog", configuration=cfg)
    with pytest.raises(InvalidFaultArgument, match="between 1 and the 3 replicas"):
        kill_replicas("catalog", count=4, configuration=cfg)
    with pytest.raises(InvalidFaultArgument, match="percent"):
        kill_replicas("catalog", percent=150, configuration=cfg)
    with pytest.raises(InvalidFaultArgument, match="signal"):
        kill_replicas("catalog", count=1, signal="SIGHUP", configuration=cfg)  # type: ignore[arg-type]
    with pytest.raises(TargetNotFound, match="no service 'nope'"):
        kill_replicas("nope", count=1, configuration=cfg)
    with pytest.raises(TargetUnknown):
        kill_replicas("catalog", count=1, configuration={"gameday_mesh_state": str(tmp_path / "x")})
    assert all(p.poll() is None for p in replicas)


def test_replicas_already_down_count_towards_the_kill(replicas, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(10)  # a replica between its death and its restart: its pid is gone
    state = tmp_path / "restarting.json"
    write_state(state, {"inventory": [dead.pid, replicas[0].pid]}, os.getpid())
    cfg = {"gameday_mesh_state": str(state), "gameday_ledger": str(tmp_path / "l.jsonl")}
    result = kill_replicas("inventory", percent=100, configuration=cfg)
    assert result["already_down"] == [dead.pid] and result["killed"] == [replicas[0].pid]
    assert replicas[0].wait(10) == -9
    result = kill_replicas("inventory", count=1, configuration=cfg)  # both down already
    assert result["killed"] == [] and len(result["already_down"]) == 2
    with pytest.raises(TargetNotFound, match="no running replica of inventory to pause"):
        pause_replicas("inventory", count=1, configuration=cfg)


def test_refuses_to_signal_a_process_outside_the_mesh(replicas, tmp_path: Path) -> None:
    state = tmp_path / "stale.json"
    # The owner is not our pid: a stale state file whose pids now belong to strangers.
    write_state(state, {"catalog": [replicas[0].pid]}, owner_pid=replicas[1].pid)
    with pytest.raises(TargetNotFound, match="refusing to signal"):
        kill_replicas("catalog", count=1, configuration={"gameday_mesh_state": str(state)})
    assert replicas[0].poll() is None


def test_pause_writes_intent_first_and_resume_undoes(replicas, cfg) -> None:
    result = pause_replicas("catalog", count=2, seed=3, ttl_s=600, configuration=cfg)
    paused = result["paused"]
    assert all(wait_status(pid, {psutil.STATUS_STOPPED}) == psutil.STATUS_STOPPED for pid in paused)
    ledger = Ledger(cfg["gameday_ledger"])
    history = [(e.id, e.status) for e in ledger.history()]
    assert history == [(result["ledger_id"], "intent"), (result["ledger_id"], "applied")]
    entry = ledger.outstanding()[0]
    assert entry.kind == "process.pause" and entry.undo.func == "resume_replicas"
    assert [r["pid"] for r in entry.undo.arguments["processes"]] == paused

    undo_entry(entry, ledger)
    for pid in paused:
        assert wait_status(pid, {psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING}) != "stopped"
    assert ledger.get(entry.id).status == "undone"
    undo_entry(entry, ledger)  # idempotent
    assert resume_replicas(service="catalog", configuration=cfg)["resumed"]  # also harmless


def test_resume_by_service_settles_the_ledger(replicas, cfg) -> None:
    result = pause_replicas("payments", count=1, ttl_s=600, configuration=cfg)
    resume_replicas(service="payments", configuration=cfg)
    assert wait_status(result["paused"][0], {"sleeping", "running"}) in {"sleeping", "running"}
    assert Ledger(cfg["gameday_ledger"]).outstanding() == []


def test_paused_process_is_resumed_by_the_ttl_watchdog(replicas, cfg) -> None:
    result = pause_replicas("payments", count=1, ttl_s=1.0, configuration=cfg)
    pid = result["paused"][0]
    assert wait_status(pid, {"stopped"}) == "stopped"
    # Nobody calls resume: the detached watchdog must.
    assert wait_status(pid, {"sleeping", "running"}, timeout=20) in {"sleeping", "running"}
    ledger = Ledger(cfg["gameday_ledger"])
    deadline = time.monotonic() + 10
    while ledger.get(result["ledger_id"]).status != "expired" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ledger.get(result["ledger_id"]).status == "expired"


def test_resume_skips_a_reused_pid(replicas) -> None:
    pid = replicas[0].pid
    os.kill(pid, 19)  # SIGSTOP
    try:
        assert wait_status(pid, {"stopped"}) == "stopped"
        record = {"pid": pid, "create_time": psutil.Process(pid).create_time() - 100}
        assert resume_replicas(processes=[record])["resumed"] == []
        assert status(pid) == "stopped"  # a different process with the same pid: untouched
    finally:
        os.kill(pid, 18)


def test_a_pause_that_fails_part_way_never_claims_an_undo_that_failed(
    replicas, cfg, monkeypatch
) -> None:
    suspended: list[int] = []
    real_suspend = psutil.Process.suspend

    def suspend_once(self: psutil.Process) -> None:
        if suspended:
            raise psutil.AccessDenied(self.pid)
        suspended.append(self.pid)
        real_suspend(self)

    def resume_refused(**_: object) -> None:
        raise PermissionError("resume refused")

    monkeypatch.setattr(psutil.Process, "suspend", suspend_once)
    monkeypatch.setattr("chaos.faults.process.resume_replicas", resume_refused)
    with pytest.raises(FaultNotApplied) as failure:
        pause_replicas("catalog", count=2, seed=3, ttl_s=600, configuration=cfg)
    message = str(failure.value)
    assert "undo failed too" in message and "was undone" not in message
    [entry] = Ledger(cfg["gameday_ledger"]).outstanding()
    assert entry.id in message and entry.kind == "process.pause"
    # Honestly reported as still paused (SIGSTOP takes effect when the target is next run).
    assert wait_status(suspended[0], {psutil.STATUS_STOPPED}) == psutil.STATUS_STOPPED
    monkeypatch.undo()  # the fixture's cleanup resumes it with the real undo
