"""The run engine: one experiment run from target to run folder, with guaranteed rollback."""

from typing import TYPE_CHECKING, Any

from chaos.engine.options import RunObserver, RunOptions, RunResult
from chaos.engine.target import CouldNotRun
from chaos.engine.verdict import EXIT_CODES

if TYPE_CHECKING:
    from chaos.engine.runner import (
        create_run_dir,
        plan_experiment,
        run_experiment,
        validate_experiment,
    )

# The runner imports chaostoolkit-lib (~0.4 s); importing it on first use keeps commands and
# modules that only need the engine's models (timeline, options, exit codes) fast to start.
_RUNNER_NAMES = {"create_run_dir", "plan_experiment", "run_experiment", "validate_experiment"}


def __getattr__(name: str) -> Any:
    if name in _RUNNER_NAMES:
        from chaos.engine import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'chaos.engine' has no attribute {name!r}")


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
