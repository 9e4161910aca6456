"""Our experiments under the Chaos Toolkit's own CLI: a control that does what `gameday
run` does around chaostoolkit-lib, so a plain `chaos run FILE` reaches the same verdict.

Declared in an experiment the Chaos Toolkit way::

    controls:
      - name: gameday
        provider: {type: python, module: chaos.engine.chaos_run}

Before the experiment it creates the run folder (under env `GAMEDAY_RUNS_DIR`, default
`runs`), prepares the target (the file's, or env `GAMEDAY_TARGET`, e.g. `mesh` for the
running mesh; `chaos run --var` only overrides keys the experiment declares), puts our keys
into the configuration every provider reads, starts the experiment's Locust load and plays
warm-up and baseline. The timeline recorder's hooks (`chaos.engine.controls`) come with it,
so the timeline, the recovery window and the lifting of faults before the steady state
after are the engine's.
After the experiment (after the rollbacks) it keeps load running `load.after_s`, undoes
whatever the ledger still lists, stops load and the target, and writes `journal.json` and
`summary.json` with the verdict `gameday run` would give. `gameday run` drops this control
from the experiment: the engine does all of it itself.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from chaoslib.exceptions import InterruptExecution
from pydantic import ValidationError

from chaos.engine.controls import (
    after_activity_control,
    after_hypothesis_control,
    after_method_control,
    after_rollback_control,
    before_hypothesis_control,
    before_method_control,
    before_rollback_control,
)
from chaos.engine.prometheus_capture import save_charts
from chaos.engine.run_setup import run_configuration, start_load, warmup_and_baseline
from chaos.engine.runs_folder import (
    RunFolderWriteFailed,
    RunsFolderUnusable,
    check_runs_dir,
    create_run_dir,
    run_summary,
    write_run_file,
)
from chaos.engine.session import RunSession, register, unregister
from chaos.engine.target import CouldNotRun, PreparedTarget, prepare_target, resolve_target
from chaos.engine.timeline import TIMELINE_FILE, Timeline
from chaos.engine.verdict import decide
from chaos.experiment.extension import model_fields
from chaos.experiment.models import Experiment
from chaos.gameday.active import clear_active, mark_active
from chaos.safety.ledger import RUN_DIR_CONFIG_KEY, Ledger

__all__ = [
    "MODULE",
    "after_activity_control",
    "after_experiment_control",
    "after_hypothesis_control",
    "after_method_control",
    "after_rollback_control",
    "before_experiment_control",
    "before_hypothesis_control",
    "before_method_control",
    "before_rollback_control",
]

MODULE = __name__
RUNS_DIR_ENV = "GAMEDAY_RUNS_DIR"
TARGET_ENV = "GAMEDAY_TARGET"
LEDGER_FILE = "ledger.jsonl"


class _StandaloneRun:
    """What one `chaos run` holds between the experiment's first and last hook."""

    def __init__(self, model: Experiment, run_dir: Path) -> None:
        self.model = model
        self.run_dir = run_dir
        self.started_at = time.time()
        self.timeline = Timeline(run_dir / TIMELINE_FILE)
        self.ledger = Ledger(run_dir / LEDGER_FILE)
        recovery_s = model.load.recovery_s if model.load else 0.0
        self.session = RunSession(run_dir, self.timeline, self.ledger, recovery_s)
        self.target_kind = model.target.kind
        self.prepared: PreparedTarget | None = None
        self.load_runner: Any = None
        self.could_not_run: str | None = None
        self.configuration: dict[str, Any] = {}


_runs: list[_StandaloneRun] = []


def _model(experiment: dict[str, Any]) -> Experiment:
    try:
        return Experiment.model_validate(model_fields(experiment))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise CouldNotRun(f"invalid experiment (see `gameday validate`): {problems}") from None


def _start(run: _StandaloneRun, experiment: dict[str, Any], configuration: dict[str, Any]) -> None:
    write_run_file(
        run.run_dir, "experiment.json", json.dumps(experiment, indent=2, default=str) + "\n"
    )
    chosen = os.environ.get(TARGET_ENV)
    try:
        # As `gameday run --target`: `local` over a local file keeps its Prometheus and
        # topology overrides.
        target = resolve_target(run.model.target, chosen)
    except ValueError as exc:
        raise CouldNotRun(f"env {TARGET_ENV}: {exc}") from None
    run.target_kind = target.kind
    run.prepared = prepare_target(target, run.run_dir, configuration)
    # Activities receive this very mapping: our keys must be in it, not in a copy.
    configuration.update(
        run_configuration(configuration, run.prepared, run.run_dir, run.ledger.path)
    )
    run.configuration = configuration
    if run.model.load is not None:
        run.load_runner = start_load(run.model.load, run.prepared, run.run_dir)
        warmup_and_baseline(run.model.load, run.session)


def before_experiment_control(
    context: dict[str, Any], configuration: dict[str, Any] | None = None, **_: Any
) -> None:
    """Run folder, target, configuration, load, warm-up and baseline; raises
    InterruptExecution (the Chaos Toolkit then skips to the rollbacks) when the run cannot
    start."""
    if configuration is None or configuration.get(RUN_DIR_CONFIG_KEY):
        return  # a run folder is already given: the engine (or the user) runs this one
    try:
        model = _model(context)
        runs_dir = Path(os.environ.get(RUNS_DIR_ENV) or "runs")
        check_runs_dir(runs_dir)
        run = _StandaloneRun(model, create_run_dir(runs_dir, model.title))
    except (CouldNotRun, RunsFolderUnusable) as exc:
        raise InterruptExecution(f"gameday: could not run: {exc}") from None
    _runs.append(run)
    register(run.session)
    mark_active(run.run_dir)
    try:
        _start(run, context, configuration)
    except (CouldNotRun, RunFolderWriteFailed) as exc:
        run.could_not_run = str(exc)
        raise InterruptExecution(f"gameday: could not run: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the Chaos Toolkit would only log it
        run.could_not_run = f"tool error: {type(exc).__name__}: {exc}"
        raise InterruptExecution(f"gameday: could not run: {run.could_not_run}") from None


def _after_tail(run: _StandaloneRun, journal: dict[str, Any]) -> None:
    load = run.model.load
    if (
        load is None
        or run.load_runner is None
        or load.after_s <= 0
        or not run.session.method_ended
        or journal.get("status") == "interrupted"
    ):
        return
    run.session.begin("after", duration_s=load.after_s)
    time.sleep(load.after_s)
    run.session.end("after")


def _stop(run: _StandaloneRun) -> None:
    """Undo what the ledger still lists, then stop load and the target."""
    try:
        settled, failures = run.session.lift_faults()
    except Exception as exc:  # noqa: BLE001 - recorded; `gameday rollback` remains
        run.timeline.stamp("rollback", id="ledger", ok=False, error=str(exc))
    else:
        for entry in settled:
            run.timeline.stamp("rollback", id=entry.id, ok=True, source="ledger")
        if failures:
            run.could_not_run = (
                f"{len(failures)} undo(s) failed: run `gameday rollback {run.run_dir}`"
            )
    if run.load_runner is not None:
        run.load_runner.stop()
    if run.prepared is not None:
        # As `gameday run` does, while the target's Prometheus still runs.
        charts = run.model.report.prometheus if run.model.report else []
        save_charts(
            run.run_dir, charts, run.configuration, run.started_at, time.time(), run.timeline
        )
        run.prepared.close()


def _write_results(run: _StandaloneRun, journal: dict[str, Any]) -> None:
    verdict = decide(journal, could_not_run=run.could_not_run)
    if verdict.verdict == "deviated":
        # The Chaos Toolkit marks only the steady state after as a deviation; the checks
        # during the method count too, and its exit code follows this flag.
        journal["deviated"] = True
    write_run_file(run.run_dir, "journal.json", json.dumps(journal, indent=2, default=str) + "\n")
    summary = run_summary(
        verdict,
        verdict.reason,
        run.model.title,
        run.started_at,
        run.prepared.label if run.prepared else run.target_kind,
    )
    write_run_file(run.run_dir, "summary.json", json.dumps(summary, indent=2) + "\n")


def after_experiment_control(
    context: dict[str, Any], state: dict[str, Any] | None = None, **_: Any
) -> None:
    """After the rollbacks: the "after" tail of load, the ledger sweep, load and target
    stopped, journal and summary written."""
    if not _runs:
        return
    run = _runs.pop()
    journal = state or {}
    try:
        try:
            _after_tail(run, journal)
        finally:
            _stop(run)
        _write_results(run, journal)
    finally:
        unregister(run.session)
        clear_active(run.run_dir)
