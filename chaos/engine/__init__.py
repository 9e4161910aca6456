"""The run engine: one experiment run from target to run folder, with guaranteed rollback."""

from chaos.engine.options import RunObserver, RunOptions, RunResult
from chaos.engine.runner import (
    create_run_dir,
    plan_experiment,
    run_experiment,
    validate_experiment,
)
from chaos.engine.target import CouldNotRun
from chaos.engine.verdict import EXIT_CODES

__all__ = [
    "EXIT_CODES",
    "CouldNotRun",
    "RunObserver",
    "RunOptions",
    "RunResult",
    "create_run_dir",
    "plan_experiment",
    "run_experiment",
    "validate_experiment",
]
