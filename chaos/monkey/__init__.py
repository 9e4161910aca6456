"""Chaos Monkey mode: random replica kills of opt-in services, inside allowed time windows,
within a kill budget, recorded in a run folder."""

from chaos.monkey.errors import MonkeyConfigError, MonkeyError
from chaos.monkey.monkey import (
    ChaosMonkey,
    Clock,
    KillRecord,
    MonkeyConfig,
    MonkeyResult,
    Replica,
    check_services_exist,
)
from chaos.monkey.recorder import RunFolderRecorder, new_run_dir
from chaos.monkey.windows import ALWAYS, TimeWindow, parse_window

__all__ = [
    "ALWAYS",
    "ChaosMonkey",
    "Clock",
    "KillRecord",
    "MonkeyConfig",
    "MonkeyConfigError",
    "MonkeyError",
    "MonkeyResult",
    "Replica",
    "RunFolderRecorder",
    "TimeWindow",
    "check_services_exist",
    "new_run_dir",
    "parse_window",
]
