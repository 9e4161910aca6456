"""Baseline comparison: did a run regress against an earlier run of the same experiment?

A metric regresses when the candidate is worse than the baseline by more than the relative
margin *and* by more than an absolute floor, so a 4 ms p95 becoming 6 ms (+50%) does not
fail a pipeline. A candidate that never recovered regresses against a baseline that did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from chaos.gates.run_metrics import RunMetrics, read_run_metrics


class Margin(BaseModel):
    relative: float = Field(0.20, ge=0, description="allowed worsening, 0.2 = +20%")
    p95_floor_ms: float = Field(10.0, ge=0, description="p95 changes below this never fail")
    recover_floor_s: float = Field(1.0, ge=0, description="TTR changes below this never fail")


Status = Literal["ok", "regressed", "improved", "not_comparable"]


class MetricDelta(BaseModel):
    name: str
    unit: str
    baseline: float | None
    candidate: float | None
    status: Status
    note: str = ""

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline

    @property
    def relative(self) -> float | None:
        if self.delta is None or not self.baseline:
            return None
        return self.delta / self.baseline


class Comparison(BaseModel):
    baseline: RunMetrics
    candidate: RunMetrics
    margin: Margin
    deltas: list[MetricDelta]
    same_experiment: bool

    @property
    def regressed(self) -> bool:
        return any(delta.status == "regressed" for delta in self.deltas)

    @property
    def regressions(self) -> list[MetricDelta]:
        return [delta for delta in self.deltas if delta.status == "regressed"]


def compare(run_a: Path, run_b: Path, margin: Margin | float | None = None) -> Comparison:
    """Compare run folder `run_b` (the candidate) with `run_a` (the baseline)."""
    if margin is None:
        margin = Margin()
    elif not isinstance(margin, Margin):
        margin = Margin(relative=margin)
    return compare_metrics(read_run_metrics(run_a), read_run_metrics(run_b), margin)


def compare_metrics(baseline: RunMetrics, candidate: RunMetrics, margin: Margin) -> Comparison:
    deltas = [
        _lower_is_better(
            "p95 under fault",
            "ms",
            baseline.p95_under_fault_ms,
            candidate.p95_under_fault_ms,
            margin.relative,
            margin.p95_floor_ms,
        ),
        _time_to_recover(baseline, candidate, margin),
    ]
    if baseline.p95_source != candidate.p95_source and "none" not in (
        baseline.p95_source,
        candidate.p95_source,
    ):
        deltas[0].note = f"computed differently ({baseline.p95_source} vs {candidate.p95_source})"
    return Comparison(
        baseline=baseline,
        candidate=candidate,
        margin=margin,
        deltas=deltas,
        same_experiment=_same_experiment(baseline, candidate),
    )


def _lower_is_better(
    name: str,
    unit: str,
    baseline: float | None,
    candidate: float | None,
    relative: float,
    floor: float,
) -> MetricDelta:
    if baseline is None or candidate is None:
        missing = "baseline" if baseline is None else "candidate"
        return MetricDelta(
            name=name,
            unit=unit,
            baseline=baseline,
            candidate=candidate,
            status="not_comparable",
            note=f"no value in the {missing} run",
        )
    worse_by = candidate - baseline
    if worse_by > floor and worse_by > baseline * relative:
        status: Status = "regressed"
    elif -worse_by > floor and -worse_by > baseline * relative:
        status = "improved"
    else:
        status = "ok"
    return MetricDelta(name=name, unit=unit, baseline=baseline, candidate=candidate, status=status)


def _time_to_recover(baseline: RunMetrics, candidate: RunMetrics, margin: Margin) -> MetricDelta:
    name, unit = "time to recover", "s"
    if baseline.recovered is True and candidate.recovered is False:
        return MetricDelta(
            name=name,
            unit=unit,
            baseline=baseline.time_to_recover_s,
            candidate=None,
            status="regressed",
            note="the candidate never recovered",
        )
    if baseline.recovered is False and candidate.recovered is True:
        return MetricDelta(
            name=name,
            unit=unit,
            baseline=None,
            candidate=candidate.time_to_recover_s,
            status="improved",
            note="the baseline never recovered",
        )
    return _lower_is_better(
        name,
        unit,
        baseline.time_to_recover_s,
        candidate.time_to_recover_s,
        margin.relative,
        margin.recover_floor_s,
    )


def _same_experiment(baseline: RunMetrics, candidate: RunMetrics) -> bool:
    if baseline.slug and candidate.slug:
        return baseline.slug == candidate.slug
    return baseline.title == candidate.title
