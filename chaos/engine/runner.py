"""One run: prepare the target, start load, hand the experiment to chaostoolkit-lib with
our controls, always roll back, and write the run folder."""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from chaoslib.run import RunEventHandler, Runner
from chaoslib.types import Schedule, Strategy

from chaos.engine import chaos_run, controls
from chaos.engine.options import RunOptions, RunResult
from chaos.engine.preparation import load_for_target, plan_experiment
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
from chaos.engine.target import CouldNotRun, PreparedTarget, prepare_target
from chaos.engine.timeline import TIMELINE_FILE, Timeline
from chaos.engine.tracing import CONTROL as TRACING_CONTROL
from chaos.engine.tracing import start_run_trace
from chaos.engine.verdict import Verdict, decide
from chaos.experiment import LoadedExperiment, Target
from chaos.gameday.active import clear_active, mark_active
from chaos.safety.guardrails import GuardrailWatcher
from chaos.safety.ledger import Ledger, UndoFailed
from chaos.safety.promql_guardrails import GuardrailUnavailable
from chaos.safety.runner_registry import RegistryError, register_runner, unregister_runner
from chaos.safety.signals import Interrupted, InterruptGuard
from chaos.safety.stop_hold import EmergencyStopActive, refuse_if_stopped

LEDGER_FILE = "ledger.jsonl"
CHAOSTOOLKIT_LOG = "chaostoolkit.log"
SETTINGS = {"runtime": {"rollbacks": {"strategy": "always"}}}


class _EngineHandler(RunEventHandler):
    """Keeps our signal handlers in place over chaostoolkit's, never lets a signal cut the
    rollbacks short, and stamps each activity the moment it finishes (before its pause)."""

    def __init__(self, guard: InterruptGuard, session: RunSession) -> None:
        self.guard = guard
        self.session = session
        session.activity_events = True

    def started(self, experiment: Any, journal: Any) -> None:
        self.guard.install()

    def start_rollbacks(self, experiment: Any) -> None:
        self.guard.disarm()
        self.session.in_rollbacks = True

    def activity_completed(self, activity: Any, run: Any) -> None:
        controls.record_activity(self.session, activity, run)


class _Run:
    def __init__(self, loaded: LoadedExperiment, target: Target, options: RunOptions) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.target = target
        self.options = options
        self.run_dir = create_run_dir(options.runs_dir, loaded.title)
        self.timeline = Timeline(self.run_dir / TIMELINE_FILE)
        self.ledger = Ledger(self.run_dir / LEDGER_FILE)
        # Registered before the second look at the hold: a `gameday stop` either sees this
        # runner or this runner sees its hold.
        try:
            self.registration = register_runner(
                options.runs_dir, "run", self.run_dir, self.ledger.path
            )
            try:
                refuse_if_stopped(options.runs_dir)
            except EmergencyStopActive:
                unregister_runner(self.registration)
                raise
        except (RegistryError, EmergencyStopActive):
            self.run_dir.rmdir()  # still empty: nothing is left behind
            raise
        recovery_s = self.model.load.recovery_s if self.model.load else 0.0
        self.session = RunSession(self.run_dir, self.timeline, self.ledger, recovery_s)
        self.guard = InterruptGuard()
        self.prepared: PreparedTarget | None = None
        self.load_runner: Any = None
        self.journal: dict[str, Any] | None = None
        self.could_not_run: str | None = None
        self.started_at = time.time()
        self.tracer = start_run_trace(self.run_dir, loaded.title, self.timeline, self.started_at)

    # -- the run ------------------------------------------------------------------------

    def execute(self) -> RunResult:
        if self.options.observer is not None:
            self.options.observer.started(self.run_dir, self.loaded)
            self.timeline.subscribe(self.options.observer.event)
        register(self.session)
        # `gameday note` from another terminal finds this run through runs/.active.
        mark_active(self.run_dir)
        self.guard.install()
        self.guard.arm()
        watcher: GuardrailWatcher | None = None
        try:
            try:
                write_run_file(
                    self.run_dir,
                    "experiment.json",
                    json.dumps(self.loaded.data, indent=2, default=str) + "\n",
                )
                self.prepared = prepare_target(
                    self.target, self.run_dir, self.loaded.data.get("configuration")
                )
                configuration = self._configuration()
                self._start_load()
                watcher = GuardrailWatcher(
                    self.run_dir / "load" / "stream.jsonl",
                    self.model.guardrails,
                    active=lambda: self.session.phase == "method" and not self.session.method_ended,
                    on_breach=self._on_breach,
                    configuration=configuration,
                ).start()
                self._warmup_and_baseline()
                self.journal = self._chaostoolkit(configuration)
                self._after_tail()
            except Interrupted:
                pass  # the guard holds the reason
            except (CouldNotRun, GuardrailUnavailable) as exc:
                self.could_not_run = str(exc)
            except Exception as exc:  # noqa: BLE001 - any tool error ends as "could not run"
                self.could_not_run = f"tool error: {type(exc).__name__}: {exc}"
            finally:
                self.guard.disarm()
                if watcher is not None:
                    watcher.stop()
                self._safety_net()
                self._stop_everything()
        finally:
            self.guard.restore()
            unregister(self.session)
            clear_active(self.run_dir)
            unregister_runner(self.registration)
        return self._finish()

    def _configuration(self) -> dict[str, Any]:
        assert self.prepared is not None
        return run_configuration(
            self.loaded.data.get("configuration"), self.prepared, self.run_dir, self.ledger.path
        )

    def _start_load(self) -> None:
        load = self.model.load
        if load is None:
            return
        if self.options.shared_load_dir is not None:
            # A game day keeps one load running across its experiments; this run reads it
            # through its own load/ so probes, guardrails and the report work unchanged. The
            # link is relative, so a runs folder moved as a whole keeps working.
            shared = Path(self.options.shared_load_dir).resolve()
            (self.run_dir / "load").symlink_to(
                os.path.relpath(shared, self.run_dir.resolve()), target_is_directory=True
            )
            return
        assert self.prepared is not None
        self.load_runner = start_load(load, self.prepared, self.run_dir, self.tracer.trace_id)

    def _warmup_and_baseline(self) -> None:
        if self.model.load is not None:
            warmup_and_baseline(self.model.load, self.session)

    def _after_tail(self) -> None:
        """Keep load running `load.after_s` past the steady state after and the rollbacks:
        without it the load stops within milliseconds of the last check, and the report's
        "after" window holds no traffic. Skipped when the method never ran or the run
        was interrupted; Ctrl-C during the tail still ends the run at once."""
        load = self.model.load
        if (
            load is None
            or load.after_s <= 0
            or not self.session.method_ended
            or self.guard.interrupted
        ):
            return
        self.session.begin("after", duration_s=load.after_s)
        self.guard.install()  # chaostoolkit's exit handlers are gone; ours hold again
        self.guard.arm()
        try:
            time.sleep(load.after_s)
        finally:
            self.guard.disarm()
            self.session.end("after")

    def _chaostoolkit(self, configuration: dict[str, Any]) -> dict[str, Any]:
        experiment = copy.deepcopy(self.loaded.data)
        experiment["configuration"] = configuration
        experiment["secrets"] = copy.deepcopy(self.loaded.secrets)
        # The chaos_run control does for a plain `chaos run` what this engine does itself,
        # and brings the timeline recorder with it: the engine adds the recorder once.
        own = {controls.CONTROL["provider"]["module"], chaos_run.MODULE}
        kept = [
            control
            for control in experiment.get("controls", [])
            if (control.get("provider") or {}).get("module") not in own
        ]
        experiment["controls"] = [*kept, controls.CONTROL, TRACING_CONTROL]
        has_hypothesis = bool(
            self.model.steady_state_hypothesis and self.model.steady_state_hypothesis.probes
        )
        strategy = Strategy.CONTINUOUS if has_hypothesis else Strategy.DEFAULT
        schedule = Schedule(continuous_hypothesis_frequency=self.model.hypothesis_frequency_s)
        logger = logging.getLogger("chaostoolkit")
        handler = logging.FileHandler(self.run_dir / CHAOSTOOLKIT_LOG, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        previous = (logger.level, logger.propagate)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        try:
            with Runner(strategy, schedule) as runner:
                runner.register_event_handler(_EngineHandler(self.guard, self.session))
                journal = runner.run(experiment, settings=copy.deepcopy(SETTINGS))
        finally:
            logger.removeHandler(handler)
            handler.close()
            logger.setLevel(previous[0])
            logger.propagate = previous[1]
        journal["experiment"]["secrets"] = copy.deepcopy(self.loaded.data.get("secrets") or {})
        return journal

    # -- safety ---------------------------------------------------------------------------

    def _on_breach(self, guardrail: Any, value: float | None) -> None:
        reason = f"guardrail {guardrail.name or guardrail.condition} held"
        self.timeline.stamp("guardrail", condition=guardrail.condition, value=value)
        self.guard.abort(reason)

    def _safety_net(self) -> None:
        """Whatever the rollbacks did not undo (an interrupt before them, a fault without a
        rollback) is undone here from the run's ledger."""
        try:
            settled, failures = self.session.lift_faults()
        except Exception as exc:  # noqa: BLE001 - reported, and `gameday rollback` remains
            self.timeline.stamp("rollback", id="ledger", ok=False, error=str(exc))
            return
        for entry in settled:
            self.timeline.stamp("rollback", id=entry.id, ok=True, source="ledger")
        self._undo_failures: list[UndoFailed] = failures
        self._unreadable_lines = self.ledger.read().unaccounted
        for line in self._unreadable_lines:
            self.timeline.stamp(
                "rollback",
                id=line.forget_id,
                ok=False,
                source="ledger",
                error=f"{line.location}: {line.reason}: may record a fault still applied",
            )

    def _stop_everything(self) -> None:
        if self.load_runner is not None:
            try:
                self.load_runner.stop()
            except Exception as exc:  # noqa: BLE001 - stopping must go on
                self.timeline.stamp(
                    "note", text=f"load did not stop cleanly: {exc}", author="engine"
                )
        self._capture_prometheus()
        if self.prepared is not None:
            try:
                self.prepared.close()
            except Exception as exc:  # noqa: BLE001
                self.timeline.stamp(
                    "note", text=f"mesh did not stop cleanly: {exc}", author="engine"
                )

    def _capture_prometheus(self) -> None:
        """Save the report's Prometheus series while the target's Prometheus still runs."""
        charts = self.model.report.prometheus if self.model.report else []
        if self.prepared is not None:
            save_charts(
                self.run_dir,
                charts,
                self._configuration(),
                self.started_at,
                time.time(),
                self.timeline,
            )

    # -- results --------------------------------------------------------------------------

    def _finish(self) -> RunResult:
        aborted = self.guard.reason
        if aborted is not None:
            self.timeline.stamp("abort", reason=aborted)
        verdict: Verdict = decide(self.journal, aborted=aborted, could_not_run=self.could_not_run)
        failures = getattr(self, "_undo_failures", [])
        unreadable = getattr(self, "_unreadable_lines", [])
        reason = verdict.reason
        if failures:
            reason += f"; {len(failures)} undo(s) failed: run `gameday rollback {self.run_dir}`"
        if unreadable:
            where = ", ".join(line.location for line in unreadable)
            reason += (
                f"; unreadable ledger line(s) {where} may record a fault still applied: "
                f"run `gameday rollback {self.run_dir}`"
            )
        if self.journal is not None:
            try:
                write_run_file(
                    self.run_dir,
                    "journal.json",
                    json.dumps(self.journal, indent=2, default=str) + "\n",
                )
            except RunFolderWriteFailed as exc:
                # Without its journal the run proves nothing: not a verdict to gate on.
                verdict = Verdict("could_not_run", f"{exc}; {reason}")
                reason = verdict.reason
        if self.timeline.write_error is not None:
            verdict = Verdict("could_not_run", f"{self.timeline.write_error}; {reason}")
            reason = verdict.reason
        try:
            self.tracer.finish(verdict.verdict)
        except RunFolderWriteFailed as exc:
            verdict = Verdict("could_not_run", f"{exc}; {reason}")
            reason = verdict.reason
        summary = run_summary(
            verdict,
            reason,
            self.model.title,
            self.started_at,
            self.prepared.label if self.prepared else self.target.kind,
        )
        try:
            write_run_file(self.run_dir, "summary.json", json.dumps(summary, indent=2) + "\n")
        except RunFolderWriteFailed as exc:
            verdict = Verdict("could_not_run", f"{exc}; {reason}")
            reason = verdict.reason
        return RunResult(
            verdict=verdict.verdict,
            exit_code=verdict.exit_code,
            reason=reason,
            title=self.model.title,
            run_dir=self.run_dir,
            summary=summary,
        )


def run_experiment(path: Path | str, options: RunOptions | None = None) -> RunResult:
    """Validate and run one experiment file; must be called from the main thread.

    Raises `ExperimentError` for invalid input before anything starts. While `gameday
    stop` holds the runs folder, nothing starts and the result is `could_not_run`. A dry
    run returns the plan (`result.plan`) without touching the target.
    """
    options = options or RunOptions()
    loaded, target = load_for_target(
        path,
        options.vars,
        options.var_files,
        options.target,
        shared_load=options.shared_load_dir is not None,
    )
    if options.dry_run:
        plan = plan_experiment(loaded, target)
        return RunResult(
            verdict="dry_run" if plan.unreachable is None else "could_not_run",
            exit_code=0 if plan.unreachable is None else 4,
            reason="dry run: nothing was touched"
            if plan.unreachable is None
            else f"dry run: {plan.unreachable}",
            title=loaded.title,
            plan=plan,
        )
    try:
        check_runs_dir(options.runs_dir)
        refuse_if_stopped(options.runs_dir)
        run = _Run(loaded, target, options)
    except (RunsFolderUnusable, EmergencyStopActive, RegistryError) as exc:
        return RunResult(verdict="could_not_run", exit_code=4, reason=str(exc), title=loaded.title)
    return run.execute()
