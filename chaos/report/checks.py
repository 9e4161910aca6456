"""Hypothesis checks, invariants and the time to impact and to recover.

The timeline's `check` events are the record of every value a probe took. A run whose
timeline has none (an engine that only journaled) falls back to the journal's
steady_states, so that no probe value is lost.

Time to impact and time to recover use the same definition as `gameday compare`:
impact is the first failing check at or after the first fault start, minus that start;
recovery is the first passing check after the last failing one, minus the last fault end
(0 when nothing failed; None, "not recovered", when no check passed after the last failure).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chaos.report.model import InvariantResult, ProbeResult, ProbeValue, Recovery

INVARIANT_MODULES = ("chaos.probes.invariants",)


def format_tolerance(tolerance: Any) -> str:
    """A tolerance as a reader would say it: `within [0, 0.05]`, `== true`, …"""
    if isinstance(tolerance, str):
        return tolerance
    if isinstance(tolerance, bool):
        return f"== {str(tolerance).lower()}"
    if isinstance(tolerance, int | float):
        return f"== {tolerance}"
    if isinstance(tolerance, list):
        if len(tolerance) == 2 and all(isinstance(v, int | float) for v in tolerance):
            return f"within [{tolerance[0]}, {tolerance[1]}]"
        return f"one of {tolerance}"
    if isinstance(tolerance, dict):
        kind = tolerance.get("type")
        if kind == "range" and isinstance(tolerance.get("range"), list):
            low, high = tolerance["range"][:2]
            return f"within [{low}, {high}]"
        if kind == "regex":
            return f"matches /{tolerance.get('pattern', '')}/"
        if kind == "jsonpath":
            expect = tolerance.get("expect")
            suffix = f" == {expect}" if expect is not None else ""
            return f"jsonpath {tolerance.get('path', '')}{suffix}"
        if kind == "probe":
            provider = tolerance.get("provider", {})
            return f"probe {provider.get('module', '')}.{provider.get('func', '')}"
    if tolerance is None:
        return "(none)"
    return str(tolerance)


def _hypothesis_probes(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    return [probe for probe in hypothesis.get("probes") or [] if isinstance(probe, dict)]


def _is_invariant(probe: dict[str, Any]) -> bool:
    provider = probe.get("provider") or {}
    return str(provider.get("module", "")) in INVARIANT_MODULES


def _journal_time(value: Any) -> float | None:
    """The journal's naive ISO timestamps are UTC."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _check_events(timeline: list[dict[str, Any]], journal: dict[str, Any]) -> list[dict[str, Any]]:
    checks = [event for event in timeline if event.get("kind") == "check" and event.get("probe")]
    if checks:
        return checks
    from_journal = []
    for phase in ("before", "after"):
        state = (journal.get("steady_states") or {}).get(phase) or {}
        for run in state.get("probes") or []:
            activity = run.get("activity") or {}
            ts = _journal_time(run.get("end") or run.get("start"))
            if ts is None or not activity.get("name"):
                continue
            from_journal.append(
                {
                    "ts": ts,
                    "kind": "check",
                    "probe": activity["name"],
                    "phase": f"steady_state_{phase}",
                    "value": run.get("output"),
                    "tolerance": activity.get("tolerance"),
                    "ok": bool(run.get("tolerance_met")),
                }
            )
    return sorted(from_journal, key=lambda event: event["ts"])


def probe_results(
    timeline: list[dict[str, Any]],
    journal: dict[str, Any],
    experiment: dict[str, Any],
    t0: float,
) -> list[ProbeResult]:
    """One result per probe, in the hypothesis's order, then any other probe checked."""
    declared = {str(probe.get("name")): probe for probe in _hypothesis_probes(experiment)}
    results: dict[str, ProbeResult] = {
        name: ProbeResult(
            name=name,
            tolerance=format_tolerance(probe.get("tolerance")),
            is_invariant=_is_invariant(probe),
        )
        for name, probe in declared.items()
    }
    for event in _check_events(timeline, journal):
        name = str(event["probe"])
        result = results.get(name)
        if result is None:
            result = results[name] = ProbeResult(
                name=name, tolerance=format_tolerance(event.get("tolerance"))
            )
        elif name not in declared or result.tolerance == "(none)":
            result.tolerance = format_tolerance(event.get("tolerance"))
        ts = float(event["ts"])
        result.values.append(
            ProbeValue(
                ts=ts,
                offset_s=round(ts - t0, 3),
                phase=str(event.get("phase", "")),
                value=event.get("value"),
                ok=bool(event.get("ok")),
                error=_short_error(event.get("error")),
            )
        )
    return list(results.values())


def _short_error(error: Any) -> str | None:
    """`chaoslib.exceptions.ActivityFailed: chaos.probes.errors.NoData: no requests…` →
    `NoData: no requests…`."""
    if not error:
        return None
    text = str(error)
    for prefix in ("chaoslib.exceptions.ActivityFailed: ",):
        text = text.removeprefix(prefix)
    head, sep, rest = text.partition(": ")
    return f"{head.rsplit('.', 1)[-1]}{sep}{rest}" if sep else text


def invariant_results(probes: list[ProbeResult]) -> list[InvariantResult]:
    """Each invariant probe's outcome: held at every check, or where it first failed."""
    results = []
    for probe in probes:
        if not probe.is_invariant:
            continue
        failed = [value for value in probe.values if not value.ok]
        if not probe.values:
            detail, ok = "never checked", False
        elif failed:
            first = failed[0]
            detail = (
                f"failed {len(failed)} of {len(probe.values)} checks; first at "
                f"+{first.offset_s:.1f} s ({first.phase}) with value {first.value!r}"
            )
            ok = False
        else:
            detail, ok = f"held at all {len(probe.values)} checks", True
        results.append(
            InvariantResult(name=probe.name, ok=ok, detail=detail, source="timeline.jsonl")
        )
    return results


def recovery(
    probes: list[ProbeResult], fault: tuple[float, float] | None, fault_ended: bool
) -> Recovery:
    if fault is None or not fault_ended:
        return Recovery()
    fault_start, fault_end = fault
    checks = sorted(
        (value.ts, value.ok)
        for probe in probes
        for value in probe.values
        if value.ts >= fault_start
    )
    if not checks:
        return Recovery()
    failures = [ts for ts, ok in checks if not ok]
    if not failures:
        return Recovery(time_to_impact_s=None, time_to_recover_s=0.0, recovered=True)
    impact = round(failures[0] - fault_start, 3)
    passes_after = [ts for ts, ok in checks if ok and ts > failures[-1]]
    if not passes_after:
        return Recovery(time_to_impact_s=impact, time_to_recover_s=None, recovered=False)
    return Recovery(
        time_to_impact_s=impact,
        time_to_recover_s=round(max(0.0, passes_after[0] - fault_end), 3),
        recovered=True,
    )
