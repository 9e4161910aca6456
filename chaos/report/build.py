"""Run folder → `Report`: the one place that decides what a report says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.load.samples import sample_files
from chaos.report.checks import invariant_results, probe_results, recovery
from chaos.report.experiment_info import experiment_info, parse_time, runbook
from chaos.report.faults import fault_records
from chaos.report.model import VERDICT_MEANINGS, Note, Report, RunEvent, Verdict
from chaos.report.phases import fault_span, load_end, load_series, phase_marks, phase_table
from chaos.report.prometheus_charts import prometheus_charts
from chaos.report.run_folder import RunFiles, read_run_folder
from chaos.report.run_trace import run_trace_id


def build_report(run_dir: Path, report_dir: Path | None = None) -> Report:
    """Read `run_dir` and derive the report; `report_dir` is where links are relative to
    (the run folder itself by default). Raises `ReportError` for an unreadable folder."""
    files = read_run_folder(run_dir)
    return report_from_files(files, report_dir or run_dir)


def report_from_files(files: RunFiles, report_dir: Path) -> Report:
    summary = files.summary
    span = _run_span(files)
    if span is not None:
        files.stream = _within(files.stream, span)
    t0 = span[0] if span is not None else float(files.stream[0]["ts"]) if files.stream else 0.0
    verdict = str(summary["verdict"])
    probes = probe_results(files.timeline, files.journal, files.experiment, t0)
    end_of_load = load_end(files.stream, files.load_dir, span[1] if span else None)
    fault = fault_span(files.timeline, end_of_load)
    fault_ended = _every_fault_ended(files.timeline)
    return Report(
        run_dir=str(files.run_dir),
        run_name=files.run_dir.name,
        t0=t0,
        verdict=Verdict(
            verdict=verdict,
            exit_code=int(summary["exit_code"]),
            meaning=VERDICT_MEANINGS.get(verdict, "unknown verdict"),
            reason=summary.get("reason") or None,
        ),
        experiment=experiment_info(summary, files.experiment),
        runbook=runbook(files.experiment, files.run_dir, report_dir),
        phases=phase_table(files.load_dir, files.timeline, files.stream, end_of_load, t0),
        phase_marks=phase_marks(files.timeline, t0),
        probes=probes,
        recovery=recovery(probes, fault, fault_ended),
        faults=fault_records(files.timeline, files.ledger, t0),
        invariants=invariant_results(probes),
        notes=_notes(files.timeline, t0),
        events=_events(files.timeline, t0),
        series=load_series(_before(files.stream, end_of_load), t0),
        prometheus=prometheus_charts(files.run_dir, t0),
        trace_id=run_trace_id(files.run_dir),
        raw_samples=bool(sample_files(files.load_dir)),
    )


def _run_span(files: RunFiles) -> tuple[float, float] | None:
    """From the run's first event (or its start) to its last event (or its end)."""
    starts = [float(event["ts"]) for event in files.timeline[:1]]
    ends = [float(event["ts"]) for event in files.timeline[-1:]]
    started = parse_time(files.summary.get("started_at"))
    ended = parse_time(files.summary.get("ended_at"))
    starts += [started] if started is not None else []
    ends += [ended] if ended is not None else []
    if not starts or not ends:
        return None
    return min(starts), max(ends)


def _within(stream: list[dict[str, Any]], span: tuple[float, float]) -> list[dict[str, Any]]:
    """Seconds that overlap the run: a game day's shared load runs before and after it."""
    return [
        line for line in stream if float(line["ts"]) + 1.0 > span[0] and float(line["ts"]) < span[1]
    ]


def _before(stream: list[dict[str, Any]], end: float | None) -> list[dict[str, Any]]:
    """Seconds that began before the load stopped (the stream's zero-request tail is not
    a drop in throughput)."""
    return stream if end is None else [line for line in stream if float(line["ts"]) < end]


def _every_fault_ended(timeline: list[dict[str, Any]]) -> bool:
    started = {str(e.get("id", e.get("name"))) for e in timeline if _fault_edge(e, "start")}
    ended = {str(e.get("id", e.get("name"))) for e in timeline if _fault_edge(e, "end")}
    return bool(started) and started <= ended


def _fault_edge(event: dict[str, Any], edge: str) -> bool:
    return event.get("kind") == "fault" and event.get("edge") == edge


def _notes(timeline: list[dict[str, Any]], t0: float) -> list[Note]:
    notes = [event for event in timeline if event.get("kind") == "note" and event.get("text")]
    return [
        Note(
            number=number,
            ts=float(event["ts"]),
            offset_s=round(float(event["ts"]) - t0, 3),
            text=str(event["text"]),
            author=str(event.get("author") or ""),
        )
        for number, event in enumerate(notes, start=1)
    ]


def _events(timeline: list[dict[str, Any]], t0: float) -> list[RunEvent]:
    events = []
    for event in timeline:
        kind = event.get("kind")
        if kind == "guardrail":
            text = f"guardrail tripped: {event.get('condition', '')} (value {event.get('value')!r})"
        elif kind == "abort":
            text = f"aborted: {event.get('reason', '')}"
        elif kind == "rollback":
            outcome = "ok" if event.get("ok") else "FAILED"
            text = f"rollback {event.get('id', '')}: {outcome}"
        else:
            continue
        ts = float(event["ts"])
        events.append(RunEvent(ts=ts, offset_s=round(ts - t0, 3), kind=str(kind), text=text))
    return events
