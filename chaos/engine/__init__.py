"""The run engine: one experiment run from target to run folder, with guaranteed rollback."""

import importlib
from typing import TYPE_CHECKING, Any

from chaos.engine.options import RunObserver, RunOptions, RunResult
from chaos.engine.target import CouldNotRun
from chaos.engine.verdict import EXIT_CODES

if TYPE_CHECKING:
    from chaos.engine.preparation import plan_experiment, validate_experiment
    from chaos.engine.runner import run_experiment
    from chaos.engine.runs_folder import create_run_dir

# The runner imports chaostoolkit-lib (~0.4 s) and the experiment loader pydantic models and
# provider checks; importing them on first use keeps commands and modules that only need the
# engine's models (timeline, options, exit codes) fast to start.
_LAZY_NAMES = {
    "create_run_dir": "chaos.engine.runs_folder",
    "plan_experiment": "chaos.engine.preparation",
    "run_experiment": "chaos.engine.runner",
    "validate_experiment": "chaos.engine.preparation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
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
