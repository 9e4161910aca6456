from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from chaos.monkey import (
    ChaosMonkey,
    MonkeyConfig,
    MonkeyConfigError,
    Replica,
    RunFolderRecorder,
    new_run_dir,
    parse_window,
)
from chaos.monkey.replicas import pid_alive, send_signal
from chaos.safety.ledger import Ledger

MONDAY_4PM = datetime(2027, 1, 18, 16, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def replicas():
    """Real child processes standing in for two replicas each of three services."""
    procs: dict[tuple[str, int], subprocess.Popen] = {}
    try:
        for service in ["catalog", "recommendations", "cart"]:
            for index in range(2):
                procs[(service, index)] = subprocess.Popen(
                    [sys.executable, "-c", "import time; time.sleep(120)"]
                )
        yield procs
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=10)


def as_replicas(procs):
    return lambda: [Replica(service=s, index=i, pid=p.pid) for (s, i), p in procs.items()]


def run_monkey(tmp_path, procs, clock, **settings):
    config = MonkeyConfig(**settings)
    run_dir = new_run_dir(tmp_path / "runs", clock.now())
    recorder = RunFolderRecorder(run_dir, config, mesh_state=None)
    monkey = ChaosMonkey(
        config=config,
        replicas=as_replicas(procs),
        clock=clock,
        sleep=clock.sleep,
        observer=recorder,
        is_alive=pid_alive,
        kill=send_signal,
        rng=random.Random(7),
    )
    return monkey.run(), run_dir


def timeline(run_dir):
    """Timeline events; `text` defaults to "" so notes can be filtered in one expression."""
    lines = (run_dir / "timeline.jsonl").read_text().splitlines()
    return [{"text": "", **json.loads(line)} for line in lines]


def assert_exactly_killed(procs, kills):
    """The killed replicas died of SIGKILL; every other replica is still running."""
    killed = {(k.service, k.index) for k in kills}
    for key, proc in procs.items():
        if key in killed:
            assert proc.wait(timeout=10) == -9
        else:
            assert proc.poll() is None, f"{key} should not have been killed"


def test_kills_only_inside_window_and_within_budget(tmp_path, replicas):
    friday_late = datetime(2027, 1, 22, 16, 55, tzinfo=UTC)
    clock = FakeClock(friday_late)
    window = parse_window("Mon-Fri 09:00-17:00")
    result, run_dir = run_monkey(
        tmp_path,
        replicas,
        clock,
        services=["catalog", "recommendations"],
        mean_interval_s=1800,
        windows=[window],
        budget=2,
        duration_s=7 * 24 * 3600,
    )
    assert result.reason == "budget spent"
    assert len(result.kills) == 2
    for kill in result.kills:
        moment = datetime.fromtimestamp(kill.ts, UTC)
        assert moment.weekday() < 5 and 9 <= moment.hour < 17, moment
        assert kill.service in {"catalog", "recommendations"}
    # the monkey stops at its last kill, and it had to wait for the window to reopen
    assert clock.now() == datetime.fromtimestamp(result.kills[-1].ts, UTC)
    waits = [e["text"] for e in timeline(run_dir) if e["text"].startswith("waiting until")]
    assert waits and all("T09:00:00+00:00" in text for text in waits)

    assert_exactly_killed(replicas, result.kills)

    faults = [e for e in timeline(run_dir) if e["kind"] == "fault"]
    assert [e["edge"] for e in faults] == ["start", "end", "start", "end"]
    assert {e["pid"] for e in faults} == {k.pid for k in result.kills}
    assert all(e["signal"] == "SIGKILL" for e in faults)

    ledger = Ledger(run_dir / "ledger.jsonl")
    statuses = [(e.target, e.status) for e in ledger.history()]
    assert [s for _, s in statuses] == ["intent", "applied", "expired"] * 2
    assert all(e.undo.func == "confirm_replaced" for e in ledger.history())
    assert ledger.outstanding() == []

    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["verdict"], summary["exit_code"]) == ("held", 0)
    assert summary["reason"].startswith("budget spent: 2 kill(s)")


def test_outside_every_window_nothing_is_killed(tmp_path, replicas):
    clock = FakeClock(MONDAY_4PM)
    result, run_dir = run_monkey(
        tmp_path,
        replicas,
        clock,
        services=["catalog"],
        mean_interval_s=60,
        windows=[parse_window("Sat 10:00-12:00")],
        budget=5,
        duration_s=3 * 24 * 3600,  # Monday 16:00 to Thursday 16:00: no Saturday
    )
    assert result.kills == []
    assert result.reason == "duration over"
    assert clock.now() == MONDAY_4PM + timedelta(days=3)
    assert all(proc.poll() is None for proc in replicas.values())
    assert not (run_dir / "ledger.jsonl").exists()


def test_never_takes_a_service_below_min_alive(tmp_path, replicas):
    clock = FakeClock(MONDAY_4PM)
    result, _ = run_monkey(
        tmp_path,
        replicas,
        clock,
        services=["catalog", "cart"],
        mean_interval_s=60,
        budget=10,
        duration_s=3600,
        min_alive=1,
        max_idle=1000,
    )
    # two replicas each and nobody restarts them: one kill per service, then only skips
    assert sorted(k.service for k in result.kills) == ["cart", "catalog"]
    assert result.skipped > 0
    assert result.reason == "duration over"
    assert_exactly_killed(replicas, result.kills)


def test_dry_run_kills_nothing_and_notes_what_it_would_do(tmp_path, replicas):
    clock = FakeClock(MONDAY_4PM)
    result, run_dir = run_monkey(
        tmp_path,
        replicas,
        clock,
        services=["catalog"],
        mean_interval_s=60,
        budget=3,
        dry_run=True,
    )
    assert len(result.kills) == 3 and all(k.dry_run for k in result.kills)
    assert all(proc.poll() is None for proc in replicas.values())
    notes = [e["text"] for e in timeline(run_dir) if e["kind"] == "note"]
    assert len(notes) == 3 and all(n.startswith("dry run: would kill catalog[") for n in notes)
    assert not (run_dir / "ledger.jsonl").exists()


def test_interval_is_exponential_with_the_given_mean(tmp_path):
    clock = FakeClock(MONDAY_4PM)
    config = MonkeyConfig(services=["catalog"], mean_interval_s=100, budget=400, dry_run=True)
    monkey = ChaosMonkey(
        config=config,
        replicas=lambda: [Replica("catalog", 0, 1), Replica("catalog", 1, 2)],
        clock=clock,
        sleep=clock.sleep,
        observer=RunFolderRecorder(new_run_dir(tmp_path, clock.now()), config, None),
        is_alive=lambda pid: True,
        kill=lambda pid, sig: pytest.fail("a dry run must not kill"),
        rng=random.Random(1),
    )
    monkey.run()
    mean = sum(clock.slept) / len(clock.slept)
    assert 80 < mean < 120


@pytest.mark.parametrize(
    ("text", "moment", "inside"),
    [
        ("Mon-Fri 09:00-17:00", datetime(2027, 1, 18, 9, 0, tzinfo=UTC), True),
        ("Mon-Fri 09:00-17:00", datetime(2027, 1, 18, 17, 0, tzinfo=UTC), False),
        ("Mon-Fri 09:00-17:00", datetime(2027, 1, 23, 12, 0, tzinfo=UTC), False),  # Saturday
        ("Fri-Mon 10:00-11:00", datetime(2027, 1, 24, 10, 30, tzinfo=UTC), True),  # Sunday
        ("22:00-02:00", datetime(2027, 1, 19, 1, 30, tzinfo=UTC), True),
        ("Mon 22:00-02:00", datetime(2027, 1, 19, 1, 30, tzinfo=UTC), True),  # Tuesday early
        ("Tue 22:00-02:00", datetime(2027, 1, 19, 1, 30, tzinfo=UTC), False),
        ("always", datetime(2027, 1, 23, 3, 0, tzinfo=UTC), True),
    ],
)
def test_window_contains(text, moment, inside):
    assert parse_window(text).contains(moment) is inside


def test_next_opening_skips_the_weekend():
    friday_evening = datetime(2027, 1, 22, 18, 0, tzinfo=UTC)
    opening = parse_window("Mon-Fri 09:00-17:00").next_opening(friday_evening)
    assert opening == datetime(2027, 1, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["9-17", "Mon-Fri", "Funday 09:00-10:00", "09:00-25:00"])
def test_bad_windows_are_explained(text):
    with pytest.raises(MonkeyConfigError, match="time window"):
        parse_window(text)


def test_stops_when_nothing_can_be_killed_for_too_long(tmp_path, replicas):
    clock = FakeClock(MONDAY_4PM)
    result, run_dir = run_monkey(
        tmp_path,
        replicas,
        clock,
        services=["catalog"],
        mean_interval_s=60,
        budget=5,  # no duration: only the idle limit can end it
        max_idle=4,
    )
    assert result.reason == "nothing to kill"
    assert len(result.kills) == 1  # two replicas, min_alive 1, and nobody restarts them
    assert result.skipped == 4
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["verdict"], summary["exit_code"]) == ("held", 0)


def test_a_mesh_that_stops_ends_the_run_as_could_not_run(tmp_path):
    from chaos.monkey import MonkeyError

    clock = FakeClock(MONDAY_4PM)
    calls = []

    def replicas():
        calls.append(1)
        if len(calls) > 1:
            raise MonkeyError("no running mesh: its owner is gone")
        return [Replica("catalog", 0, 101), Replica("catalog", 1, 102)]

    config = MonkeyConfig(services=["catalog"], mean_interval_s=60, budget=3, dry_run=True)
    run_dir = new_run_dir(tmp_path, clock.now())
    monkey = ChaosMonkey(
        config=config,
        replicas=replicas,
        clock=clock,
        sleep=clock.sleep,
        observer=RunFolderRecorder(run_dir, config, None),
        is_alive=lambda pid: True,
        kill=lambda pid, sig: pytest.fail("a dry run must not kill"),
        rng=random.Random(2),
    )
    result = monkey.run()
    assert (result.reason, len(result.kills)) == ("mesh stopped", 1)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["verdict"], summary["exit_code"]) == ("could_not_run", 4)
    assert any("owner is gone" in e["text"] for e in timeline(run_dir))
