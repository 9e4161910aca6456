"""CI resilience gates: baseline comparison, run history, repeated verification, CI summaries."""

from chaos.gates.compare import Comparison, Margin, MetricDelta, compare, compare_metrics
from chaos.gates.errors import GateError, RunFolderError
from chaos.gates.history import HistoryEntry, append_run, index_path, read_history
from chaos.gates.run_metrics import RunMetrics, read_run_metrics
from chaos.gates.step_summary import render_run_summary, write_step_summary
from chaos.gates.verify import VerifyReport, VerifyRun, verify

__all__ = [
    "Comparison",
    "GateError",
    "HistoryEntry",
    "Margin",
    "MetricDelta",
    "RunFolderError",
    "RunMetrics",
    "VerifyReport",
    "VerifyRun",
    "append_run",
    "compare",
    "compare_metrics",
    "index_path",
    "read_history",
    "read_run_metrics",
    "render_run_summary",
    "verify",
    "write_step_summary",
]
