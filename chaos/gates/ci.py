"""What happens after every `gameday run`: the history line, the baseline gate and the CI
summary. One call, so the run command needs only a few lines to get all three."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from chaos.gates.compare import Comparison, Margin, compare_metrics
from chaos.gates.history import HistoryEntry, append_run
from chaos.gates.run_metrics import RunMetrics, read_run_metrics
from chaos.gates.step_summary import render_run_summary, write_step_summary

REGRESSED_EXIT_CODE = 1


class GateOutcome(BaseModel):
    metrics: RunMetrics
    comparison: Comparison | None
    history: HistoryEntry
    step_summary: Path | None
    exit_code: int  # the run's, turned into 1 when a held run regressed against its baseline


def check_baseline(baseline: Path) -> RunMetrics:
    """Read a baseline before the run starts, so a wrong path fails fast (`RunFolderError`)."""
    return read_run_metrics(baseline)


def gate_run(
    run_dir: Path,
    experiment: Path | str,
    exit_code: int,
    *,
    baseline: Path | None = None,
    margin: Margin | None = None,
    runs_dir: Path | None = None,
    step_summary: Path | None = None,
) -> GateOutcome:
    """Append the run to the history, compare it with `baseline`, and write the Markdown
    summary to `step_summary` (default: the file named by env GITHUB_STEP_SUMMARY, if set)."""
    metrics = read_run_metrics(run_dir)
    comparison = None
    if baseline is not None:
        comparison = compare_metrics(read_run_metrics(baseline), metrics, margin or Margin())
    history = append_run(run_dir, experiment, runs_dir)
    written = write_step_summary(render_run_summary(metrics, comparison), step_summary)
    if comparison is not None and comparison.regressed and exit_code == 0:
        exit_code = REGRESSED_EXIT_CODE
    return GateOutcome(
        metrics=metrics,
        comparison=comparison,
        history=history,
        step_summary=written,
        exit_code=exit_code,
    )
