"""`verify --repeat N`: run one experiment N times and report how often it held.

A fix that holds 2 runs out of 3 is a flaky fix; the pass rate makes that visible instead
of letting one lucky run close an incident. The runner is injected so that this logic does
not depend on how a run is started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from chaos.gates.errors import GateError


class RunOutcome(Protocol):
    """What verify needs of a run result (`chaos.engine.RunResult` satisfies it)."""

    run_dir: Path
    verdict: str
    exit_code: int


class VerifyRun(BaseModel):
    attempt: int
    run_dir: str
    verdict: str
    exit_code: int


class VerifyReport(BaseModel):
    experiment: str
    repeat: int
    required_pass_rate: float = Field(ge=0, le=1)
    runs: list[VerifyRun]

    @property
    def passes(self) -> int:
        return sum(1 for run in self.runs if run.verdict == "held")

    @property
    def pass_rate(self) -> float:
        return self.passes / len(self.runs) if self.runs else 0.0

    @property
    def ok(self) -> bool:
        return len(self.runs) == self.repeat and self.pass_rate >= self.required_pass_rate

    @property
    def flaky(self) -> bool:
        return 0 < self.passes < len(self.runs)


def verify(
    experiment: Path,
    repeat: int,
    run_once: Callable[[Path], RunOutcome],
    required_pass_rate: float = 1.0,
    on_run: Callable[[VerifyRun], None] | None = None,
) -> VerifyReport:
    """Run `experiment` `repeat` times through `run_once`; every run counts, none is retried.

    A run that ends with exit code 2 (invalid input) stops verification: repeating it
    cannot give a different answer.
    """
    if repeat < 1:
        raise GateError(f"--repeat must be at least 1, got {repeat}")
    report = VerifyReport(
        experiment=str(experiment),
        repeat=repeat,
        required_pass_rate=required_pass_rate,
        runs=[],
    )
    for attempt in range(1, repeat + 1):
        outcome = run_once(experiment)
        run = VerifyRun(
            attempt=attempt,
            run_dir=str(outcome.run_dir),
            verdict=outcome.verdict,
            exit_code=outcome.exit_code,
        )
        report.runs.append(run)
        if on_run is not None:
            on_run(run)
        if outcome.exit_code == 2:
            break
    return report
