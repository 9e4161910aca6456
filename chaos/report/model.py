"""The report model: everything a report shows, each number with where it came from.

Times are unix seconds; `offset_s` fields are seconds since the run's first recorded event
(`Report.t0`), which is what the chart's x axis and the tables show.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

VERDICT_MEANINGS: dict[str, str] = {
    "held": "the steady-state hypothesis held before, during and after the fault",
    "deviated": "the steady-state hypothesis was not met: the system did not tolerate the fault",
    "aborted": "a guardrail or an interrupt stopped the run; the faults were rolled back",
    "could_not_run": (
        "the experiment could not run (target unreachable, tool error, or the steady state "
        "was not met before any fault)"
    ),
}


class Verdict(BaseModel):
    verdict: str
    exit_code: int
    meaning: str
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


class ExperimentInfo(BaseModel):
    title: str
    slug: str = ""
    description: str = ""
    teaches: str = ""
    tags: list[str] = Field(default_factory=list)
    target: str = ""
    blast_radius: list[str] = Field(default_factory=list)
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


class RunbookSection(BaseModel):
    heading: str
    summary: str


class Runbook(BaseModel):
    path: str = Field(description="As written in the experiment's `runbook` key.")
    link: str = Field(description="Relative to the report file, for the Markdown/HTML link.")
    found: bool
    title: str = ""
    sections: list[RunbookSection] = Field(default_factory=list)


PhaseName = Literal["baseline", "during_fault", "recovery", "after"]
StatsSource = Literal["raw samples", "stream.jsonl"]


class PhaseStats(BaseModel):
    """Load over one phase window [start, end)."""

    name: PhaseName
    label: str
    start: float
    end: float
    start_offset_s: float
    end_offset_s: float
    requests: int
    failures: int
    rps: float
    error_rate: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    source: StatsSource


class ProbeValue(BaseModel):
    ts: float
    offset_s: float
    phase: str
    value: Any
    ok: bool
    error: str | None = Field(None, description="Why the probe produced no value.")


class ProbeResult(BaseModel):
    """One hypothesis probe and every value it took, in time order."""

    name: str
    tolerance: str
    is_invariant: bool = False
    values: list[ProbeValue] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(value.ok for value in self.values)

    @property
    def failures(self) -> int:
        return sum(not value.ok for value in self.values)


class FaultRecord(BaseModel):
    """A fault from the timeline and its ledger history."""

    id: str
    name: str
    kind: str = ""
    target: str = ""
    start: float | None = None
    end: float | None = None
    start_offset_s: float | None = None
    end_offset_s: float | None = None
    applied_at: float | None = None
    rolled_back_at: float | None = None
    rolled_back_offset_s: float | None = None
    status: str = Field("", description="The ledger's latest status for this fault.")


class InvariantResult(BaseModel):
    name: str
    ok: bool
    detail: str = ""
    source: str = Field(description="The run-folder file this result was read from.")


class Note(BaseModel):
    number: int
    ts: float
    offset_s: float
    text: str
    author: str = ""


class RunEvent(BaseModel):
    """A guardrail trip, an abort or a rollback step, for the event list."""

    ts: float
    offset_s: float
    kind: str
    text: str


class Recovery(BaseModel):
    """Fault start → first breach and fault end → back within tolerance (seconds)."""

    time_to_impact_s: float | None = None
    time_to_recover_s: float | None = None
    recovered: bool | None = Field(
        None, description="None when there were no checks after the fault started."
    )


class SeriesPoint(BaseModel):
    """One second of the load stream, for the chart."""

    offset_s: float
    rps: float
    error_rate: float
    p50: float | None
    p95: float | None
    p99: float | None


class PrometheusSeries(BaseModel):
    """One series of a Prometheus chart: its labels as text and `(offset_s, value)` points."""

    label: str
    points: list[tuple[float, float]]


class PrometheusChartData(BaseModel):
    """A chart the experiment asked for (`report.prometheus`), from `prometheus.json`."""

    title: str
    promql: str
    error: str | None = None
    series: list[PrometheusSeries] = Field(default_factory=list)


class PhaseMark(BaseModel):
    name: str
    start_offset_s: float
    end_offset_s: float | None


class Report(BaseModel):
    run_dir: str
    run_name: str
    t0: float
    verdict: Verdict
    experiment: ExperimentInfo
    runbook: Runbook | None = None
    phases: list[PhaseStats] = Field(default_factory=list)
    phase_marks: list[PhaseMark] = Field(default_factory=list)
    probes: list[ProbeResult] = Field(default_factory=list)
    recovery: Recovery = Field(default_factory=Recovery)
    faults: list[FaultRecord] = Field(default_factory=list)
    invariants: list[InvariantResult] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    events: list[RunEvent] = Field(default_factory=list)
    series: list[SeriesPoint] = Field(default_factory=list)
    prometheus: list[PrometheusChartData] = Field(default_factory=list)
    trace_id: str | None = Field(None, description="The run's trace (trace.json), hex.")
    raw_samples: bool = Field(False, description="Whether load/samples/ was there.")

    @property
    def check_count(self) -> int:
        return sum(len(probe.values) for probe in self.probes)

    @property
    def failed_check_count(self) -> int:
        return sum(probe.failures for probe in self.probes)
