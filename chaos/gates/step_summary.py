"""The Markdown a CI job shows for a run (GitHub Actions: the `GITHUB_STEP_SUMMARY` file)."""

from __future__ import annotations

import os
from pathlib import Path

from chaos.gates.compare import Comparison, MetricDelta
from chaos.gates.run_metrics import RunMetrics
from chaos.gates.verify import VerifyReport

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

_VERDICT_ICON = {
    "held": "✅",
    "deviated": "❌",
    "aborted": "⛔",
    "could_not_run": "⚠️",
}
_EXIT_MEANING = {
    0: "steady state held",
    1: "deviated",
    2: "invalid input",
    3: "aborted and rolled back",
    4: "could not run",
}


def render_run_summary(metrics: RunMetrics, comparison: Comparison | None = None) -> str:
    icon = _VERDICT_ICON.get(metrics.verdict, "❔")
    title = metrics.title or metrics.slug or metrics.run_dir
    meaning = _EXIT_MEANING.get(metrics.exit_code, "unknown")
    lines = [
        f"### {icon} {_cell(title)}: {metrics.verdict}",
        "",
        f"Exit code {metrics.exit_code} ({meaning}). Run folder: `{metrics.run_dir}`.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| p95 under fault | {_number(metrics.p95_under_fault_ms, 'ms')} |",
        f"| error rate under fault | {_percent(metrics.error_rate_under_fault)} |",
        f"| time to impact | {_number(metrics.time_to_impact_s, 's')} |",
        f"| time to recover | {_recovery(metrics)} |",
    ]
    if comparison is not None:
        lines += ["", *render_comparison(comparison)]
    return "\n".join(lines) + "\n"


def render_comparison(comparison: Comparison) -> list[str]:
    verdict = "❌ regressed" if comparison.regressed else "✅ within margin"
    lines = [
        f"**Baseline** `{comparison.baseline.run_dir}`: {verdict} "
        f"(margin {comparison.margin.relative:.0%}).",
        "",
        "| metric | baseline | this run | change | status |",
        "|---|---|---|---|---|",
    ]
    lines += [_comparison_row(delta) for delta in comparison.deltas]
    if not comparison.same_experiment:
        lines += ["", "⚠️ The baseline is a run of a different experiment."]
    return lines


def render_verify_summary(report: VerifyReport) -> str:
    if report.ok:
        headline = f"✅ {report.passes}/{len(report.runs)} held"
    elif report.flaky:
        headline = f"⚠️ flaky: {report.passes}/{len(report.runs)} held"
    else:
        headline = f"❌ {report.passes}/{len(report.runs)} held"
    lines = [
        f"### {headline}: verify `{report.experiment}`",
        "",
        f"Required pass rate {report.required_pass_rate:.0%}, got {report.pass_rate:.0%}.",
        "",
        "| run | verdict | exit code | run folder |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {run.attempt} | {_VERDICT_ICON.get(run.verdict, '❔')} {run.verdict} | "
        f"{run.exit_code} | `{run.run_dir}` |"
        for run in report.runs
    ]
    return "\n".join(lines) + "\n"


def write_step_summary(markdown: str, path: Path | None = None) -> Path | None:
    """Append to `path` or the file named by `GITHUB_STEP_SUMMARY`; None when neither is set."""
    if path is None:
        target = os.environ.get(STEP_SUMMARY_ENV)
        if not target:
            return None
        path = Path(target)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(markdown + "\n")
    return path


def _comparison_row(delta: MetricDelta) -> str:
    change = "–"
    if delta.delta is not None:
        change = f"{delta.delta:+.1f} {delta.unit}"
        if delta.relative is not None:
            change += f" ({delta.relative:+.0%})"
    status = delta.status.replace("_", " ")
    if delta.note:
        status += f": {delta.note}"
    return (
        f"| {delta.name} | {_number(delta.baseline, delta.unit)} | "
        f"{_number(delta.candidate, delta.unit)} | {change} | {_cell(status)} |"
    )


def _recovery(metrics: RunMetrics) -> str:
    if metrics.recovered is False:
        return "did not recover"
    return _number(metrics.time_to_recover_s, "s")


def _number(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{value:.1f} {unit}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
