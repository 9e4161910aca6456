"""The inputs and outputs of `run_experiment`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chaos.engine.timeline import Event


class RunObserver(Protocol):
    """Receives a run's progress (the CLI's live view)."""

    def started(self, run_dir: Path, experiment: Any) -> None: ...

    def event(self, event: Event) -> None: ...


@dataclass
class RunOptions:
    vars: dict[str, Any] = field(default_factory=dict)
    var_files: list[Path] = field(default_factory=list)
    target: str | None = None
    runs_dir: Path = Path("runs")
    dry_run: bool = False
    observer: RunObserver | None = None
    # A load output folder already being written (a game day's shared load): the run
    # links it as its load/ instead of starting its own Locust.
    shared_load_dir: Path | None = None


@dataclass
class RunResult:
    verdict: str
    exit_code: int
    reason: str
    title: str
    run_dir: Path | None = None
    plan: Any = None
    summary: dict[str, Any] = field(default_factory=dict)
