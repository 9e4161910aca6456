"""Chaos Monkey mode: kill random replicas of opt-in services at random moments.

Kills arrive as a Poisson process (exponential gaps with the configured mean), only inside
the allowed time windows, never more than the kill budget, and never take a service below
`min_alive` live replicas. Time, sleeping, randomness, the replica list and the kill itself
are injected, so tests drive a whole day of monkey business with a fake clock.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, Field, field_validator

from chaos.monkey.errors import MonkeyConfigError, MonkeyError
from chaos.monkey.windows import ALWAYS, TimeWindow, next_opening, within_any


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware; windows are read in its zone."""
        ...


@dataclass(frozen=True)
class Replica:
    service: str
    index: int
    pid: int


class MonkeyConfig(BaseModel):
    services: list[str] = Field(min_length=1, description="opt-in services; no others are hit")
    mean_interval_s: float = Field(gt=0)
    windows: list[TimeWindow] = Field(default_factory=lambda: [ALWAYS], min_length=1)
    budget: int = Field(ge=1, description="the most kills in one monkey run")
    duration_s: float | None = Field(None, gt=0, description="None: until the budget is spent")
    min_alive: int = Field(1, ge=0, description="live replicas a service always keeps")
    max_idle: int = Field(
        10, ge=1, description="stop after this many kill moments in a row found no victim"
    )
    dry_run: bool = False
    signal: int = int(signal.SIGKILL)

    @field_validator("services")
    @classmethod
    def _distinct(cls, services: list[str]) -> list[str]:
        if len(set(services)) != len(services):
            raise ValueError("a service is listed twice")
        return services


class KillRecord(BaseModel):
    ts: float
    service: str
    index: int
    pid: int
    dry_run: bool


StopReason = Literal[
    "budget spent", "duration over", "interrupted", "nothing to kill", "mesh stopped"
]
# How each way of stopping ends the run: (verdict, exit code), as for experiments.
STOP_VERDICTS: dict[str, tuple[str, int]] = {
    "budget spent": ("held", 0),
    "duration over": ("held", 0),
    "nothing to kill": ("held", 0),
    "interrupted": ("aborted", 3),
    "mesh stopped": ("could_not_run", 4),
}


class MonkeyResult(BaseModel):
    kills: list[KillRecord]
    skipped: int = Field(description="moments with no replica that could be killed")
    reason: StopReason


class MonkeyObserver(Protocol):
    """Where the monkey reports what it does (a run folder recorder, a console)."""

    def started(self, at: datetime) -> None: ...
    def before_kill(self, service: str, index: int, pid: int, at: datetime) -> None: ...
    def killed(self, record: KillRecord) -> None: ...
    def skipped(self, at: datetime, why: str) -> None: ...
    def waiting(self, at: datetime, until: datetime, why: str) -> None: ...
    def finished(self, at: datetime, result: MonkeyResult) -> None: ...


@dataclass
class ChaosMonkey:
    config: MonkeyConfig
    replicas: Callable[[], list[Replica]]
    clock: Clock
    sleep: Callable[[float], None]
    observer: MonkeyObserver
    is_alive: Callable[[int], bool]
    kill: Callable[[int, int], None]
    rng: random.Random = field(default_factory=random.Random)
    # A signalled process can look alive for a moment after SIGKILL; never count it again.
    _signalled: set[int] = field(default_factory=set, init=False)

    def run(self) -> MonkeyResult:
        kills: list[KillRecord] = []
        skipped = 0
        started = self.clock.now()
        deadline = (
            started + timedelta(seconds=self.config.duration_s) if self.config.duration_s else None
        )
        self.observer.started(started)
        reason: StopReason = "budget spent"
        idle = 0
        try:
            while len(kills) < self.config.budget:
                moment = self._next_moment(deadline)
                if moment is None:
                    reason = "duration over"
                    break
                record = self._strike(moment)
                if record is None:
                    skipped += 1
                    idle += 1
                    if idle >= self.config.max_idle:
                        # Replicas are not coming back (or the window keeps closing on
                        # us): an unattended monkey should end rather than idle forever.
                        reason = "nothing to kill"
                        break
                    continue
                idle = 0
                kills.append(record)
                self.observer.killed(record)
        except KeyboardInterrupt:
            reason = "interrupted"
        except MonkeyError as exc:
            self.observer.skipped(self.clock.now(), str(exc))
            reason = "mesh stopped"
        result = MonkeyResult(kills=kills, skipped=skipped, reason=reason)
        self.observer.finished(self.clock.now(), result)
        return result

    def _next_moment(self, deadline: datetime | None) -> datetime | None:
        """Sleep until the next kill moment inside a window; None once the deadline passes.

        A moment that falls outside every window is dropped: the monkey sleeps until the
        next window opens and draws a fresh gap from there, so kills do not pile up at the
        opening.
        """
        while True:
            gap = self.rng.expovariate(1.0 / self.config.mean_interval_s)
            target = self.clock.now() + timedelta(seconds=gap)
            if deadline is not None and target >= deadline:
                self._sleep_until(deadline)
                return None
            if within_any(self.config.windows, target):
                self._sleep_until(target)
                return self.clock.now()
            opening = next_opening(self.config.windows, target)
            if deadline is not None and opening >= deadline:
                self._sleep_until(deadline)
                return None
            self.observer.waiting(self.clock.now(), opening, "outside the allowed windows")
            self._sleep_until(opening)

    def _sleep_until(self, moment: datetime) -> None:
        remaining = (moment - self.clock.now()).total_seconds()
        if remaining > 0:
            self.sleep(remaining)

    def _strike(self, moment: datetime) -> KillRecord | None:
        if not within_any(self.config.windows, moment):
            self.observer.skipped(moment, "woke up outside the allowed windows")
            return None
        candidates = self._candidates()
        if not candidates:
            self.observer.skipped(
                moment, f"no opt-in service has more than {self.config.min_alive} live replicas"
            )
            return None
        victim = self.rng.choice(candidates)
        if not self.config.dry_run:
            self.observer.before_kill(victim.service, victim.index, victim.pid, moment)
            self.kill(victim.pid, self.config.signal)
            self._signalled.add(victim.pid)
        return KillRecord(
            ts=moment.timestamp(),
            service=victim.service,
            index=victim.index,
            pid=victim.pid,
            dry_run=self.config.dry_run,
        )

    def _candidates(self) -> list[Replica]:
        alive: dict[str, list[Replica]] = {name: [] for name in self.config.services}
        for replica in self.replicas():
            if (
                replica.service in alive
                and replica.pid not in self._signalled
                and self.is_alive(replica.pid)
            ):
                alive[replica.service].append(replica)
        return [
            replica
            for group in alive.values()
            if len(group) > self.config.min_alive
            for replica in sorted(group, key=lambda r: r.index)
        ]


def check_services_exist(config: MonkeyConfig, known: set[str]) -> None:
    unknown = sorted(set(config.services) - known)
    if unknown:
        raise MonkeyConfigError(
            f"opt-in service(s) {', '.join(unknown)} not in the mesh "
            f"(services: {', '.join(sorted(known))})"
        )
