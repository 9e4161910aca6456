"""`gameday play`: a plan's experiments in order against one target under one continuous
load, with the facilitator's instructions and pauses, and one combined report.

The game day has its own folder, `runs/<UTC time>-gameday-<slug>/`: `plan.json`,
`gameday.json` (every step's verdict, rewritten after each step so a crash leaves a readable
folder), `timeline.jsonl` (steps and the notes taken between experiments), `load/` (the
shared load; each experiment's run folder links it as its own `load/`), and the combined
report. Each experiment still gets its ordinary run folder next to it, with its own report.

Exit code: 0 when every experiment held, 3 when the game day was interrupted, 4 when the
target or the load could not be brought up, else the exit code of the first experiment
that did not hold.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from chaos.engine import RunObserver, RunOptions, RunResult, create_run_dir, run_experiment
from chaos.engine.runs_folder import check_runs_dir
from chaos.engine.target import MESH_STATE_ENV, CouldNotRun, PreparedTarget, prepare_target
from chaos.engine.timeline import TIMELINE_FILE, Timeline
from chaos.experiment import Target
from chaos.gameday.active import clear_active, mark_active
from chaos.gameday.plan import LoadedPlan, PlanStep
from chaos.gates import GateError, append_run
from chaos.load import LoadError, LoadRunner, LoadSpec
from chaos.report import ReportError, write_reports
from chaos.report.gameday import GAMEDAY_FILE, write_gameday_reports
from chaos.safety.runner_registry import registered_runner
from chaos.safety.stop_hold import current_hold, refuse_if_stopped

ACK_ENV = "GAMEDAY_ACK_FILE"
INTERRUPT_PREFIX = "interrupted by"


class Facilitator(Protocol):
    """What the person running the game day sees and does (the CLI prints with rich)."""

    def say(self, text: str) -> None: ...

    def wait_for_enter(self, prompt: str) -> None: ...

    def sleep(self, seconds: float, label: str) -> None: ...

    def watching(self) -> AbstractContextManager[RunObserver | None]:
        """The view of one experiment while it runs (entered and left around each run)."""
        ...


@dataclass
class PlayOptions:
    runs_dir: Path = Path("runs")
    step: bool = False  # wait for Enter before each experiment


@dataclass
class StepOutcome:
    index: int
    experiment: str
    title: str
    instructions: str
    run_dir: Path | None = None
    verdict: str = "not_run"
    exit_code: int | None = None
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass
class GamedayResult:
    gameday_dir: Path
    verdict: str
    exit_code: int
    reason: str | None
    steps: list[StepOutcome] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM between experiments."""


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM between experiments stops the game day like Ctrl-C (the engine handles both
    itself while an experiment runs)."""

    def handle(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _mesh_state_env(path: Path | None) -> Iterator[None]:
    """Point the experiments (target `mesh`) at the game day's mesh."""
    previous = os.environ.get(MESH_STATE_ENV)
    if path is not None:
        os.environ[MESH_STATE_ENV] = str(Path(path).resolve())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MESH_STATE_ENV, None)
        else:
            os.environ[MESH_STATE_ENV] = previous


class _GameDay:
    def __init__(self, loaded: LoadedPlan, options: PlayOptions, facilitator: Facilitator):
        self.loaded = loaded
        self.plan = loaded.plan
        self.options = options
        self.facilitator = facilitator
        self.dir = create_run_dir(options.runs_dir, f"gameday {self.plan.title}")
        self.timeline = Timeline(self.dir / TIMELINE_FILE)
        self.started_at = time.time()
        self.steps = [
            StepOutcome(
                index=index,
                experiment=str(step.experiment),
                title=experiment.title,
                instructions=step.instructions.strip(),
            )
            for index, (step, experiment) in enumerate(
                zip(self.plan.steps, loaded.experiments, strict=True)
            )
        ]
        self.prepared: PreparedTarget | None = None
        self.load: LoadRunner | None = None
        self.stopped: tuple[str, int, str] | None = None  # verdict, exit code, reason
        self.unrendered: list[Path] = []  # run folders of interrupted steps

    def play(self) -> GamedayResult:
        (self.dir / "plan.json").write_text(
            self.plan.model_dump_json(indent=2) + "\n", encoding="utf-8"
        )
        self._write_summary(ended=False)
        mark_active(self.dir)
        try:
            # Registered so `gameday stop` finds (and SIGTERMs) this game day.
            with _sigterm_interrupts(), registered_runner(self.options.runs_dir, "play", self.dir):
                try:
                    self._bring_up()
                    with _mesh_state_env(self.prepared.state_path if self.prepared else None):
                        self._run_steps()
                except KeyboardInterrupt:
                    self.stopped = ("aborted", 3, "interrupted between experiments")
                    self.timeline.stamp("abort", reason=self.stopped[2])
                except CouldNotRun as exc:
                    self.stopped = ("could_not_run", 4, str(exc))
                    self.timeline.stamp("abort", reason=self.stopped[2])
                finally:
                    self._tear_down()
        finally:
            clear_active(self.dir)
        for run_dir in self.unrendered:
            self._write_step_reports(run_dir)
        if self.stopped is None and self.timeline.write_error is not None:
            # A game day whose timeline is incomplete is no record to debrief from.
            self.stopped = ("could_not_run", 4, str(self.timeline.write_error))
        verdict, exit_code, reason = self._verdict()
        self._write_summary(ended=True)
        try:
            reports = write_gameday_reports(self.dir)
        except ReportError as exc:
            self.facilitator.say(f"the combined report could not be written: {exc}")
            reports = []
        return GamedayResult(self.dir, verdict, exit_code, reason, self.steps, reports)

    # -- target and load ---------------------------------------------------------------

    def _bring_up(self) -> None:
        target = self.plan.target
        self.facilitator.say(
            "Starting the mesh…" if target.kind == "local" else "Attaching to the running mesh…"
        )
        self.prepared = prepare_target(
            Target(kind=target.kind, replicas=target.replicas, topology=target.topology), self.dir
        )
        if not self.prepared.gateway_url:
            raise CouldNotRun("the target has no gateway URL to send load to")
        load = self.plan.load
        load_dir = self.dir / "load"
        self.load = LoadRunner(
            LoadSpec(
                host=self.prepared.gateway_url,
                users=load.users,
                spawn_rate=load.spawn_rate,
                locustfile=Path(load.locustfile) if load.locustfile else None,
                output_dir=load_dir,
                env={ACK_ENV: str((load_dir / "acks.jsonl").resolve())},
            )
        )
        try:
            self.load.start()
            self.load.wait_ready(timeout=load.ready_timeout_s)
        except LoadError as exc:
            raise CouldNotRun(f"the shared load did not start: {exc}") from exc
        self.timeline.phase("gameday", "start")
        if self.plan.briefing.strip():
            self.facilitator.say(self.plan.briefing.strip())
        if load.warmup_s > 0:
            self.facilitator.sleep(load.warmup_s, "load warming up")

    def _tear_down(self) -> None:
        if self.load is not None:
            try:
                self.load.stop()
            except LoadError as exc:
                self.facilitator.say(f"the shared load did not stop cleanly: {exc}")
        if self.prepared is not None:
            self.prepared.close()
        self.timeline.phase("gameday", "end")

    # -- steps -------------------------------------------------------------------------

    def _run_steps(self) -> None:
        total = len(self.steps)
        for outcome, step, path in zip(
            self.steps, self.plan.steps, self.loaded.experiment_paths, strict=True
        ):
            hold = current_hold(self.options.runs_dir)
            if hold is not None:
                self.stopped = (
                    "aborted",
                    3,
                    f"stopped before step {outcome.index + 1}: {hold.describe()}",
                )
                self.timeline.stamp("abort", reason=self.stopped[2])
                return
            self._announce(outcome, step, total)
            self._run_step(outcome, step, path)
            if outcome.reason and outcome.reason.startswith(INTERRUPT_PREFIX):
                self.stopped = ("aborted", 3, f"{outcome.reason} during step {outcome.index + 1}")
                return
            if step.pause_after_s > 0 and outcome.index + 1 < total:
                self.facilitator.sleep(step.pause_after_s, "pause before the next experiment")

    def _announce(self, outcome: StepOutcome, step: PlanStep, total: int) -> None:
        self.facilitator.say(f"Step {outcome.index + 1} of {total}: {outcome.title}")
        if outcome.instructions:
            self.facilitator.say(outcome.instructions)
        if self.options.step:
            self.facilitator.wait_for_enter("Press Enter to start the experiment")

    def _run_step(self, outcome: StepOutcome, step: PlanStep, path: Path) -> None:
        outcome.started_at = time.time()
        self.timeline.stamp("step", index=outcome.index, title=outcome.title, edge="start")
        # Written now too, not only after the step: the console shows the step running.
        self._write_summary(ended=False)
        with self.facilitator.watching() as observer:
            result: RunResult = run_experiment(
                path,
                RunOptions(
                    vars=dict(step.vars),
                    target="mesh",
                    runs_dir=self.options.runs_dir,
                    observer=observer,
                    shared_load_dir=self.dir / "load",
                ),
            )
        # The engine cleared its own marker: notes between experiments go to the game day.
        mark_active(self.dir)
        outcome.ended_at = time.time()
        outcome.run_dir, outcome.verdict = result.run_dir, result.verdict
        outcome.exit_code, outcome.reason = result.exit_code, result.reason
        self.timeline.stamp(
            "step",
            index=outcome.index,
            edge="end",
            verdict=result.verdict,
            exit_code=result.exit_code,
            run_dir=str(result.run_dir) if result.run_dir else None,
        )
        if result.run_dir is not None:
            if outcome.reason and outcome.reason.startswith(INTERRUPT_PREFIX):
                # Rendered once the game day is no longer registered: an emergency stop
                # waits for the rollbacks, not for the charts.
                self.unrendered.append(result.run_dir)
            else:
                self._write_step_reports(result.run_dir)
            # Each experiment of a game day is a run like any other: `gameday history` and
            # baselines must see it, exactly as they see a `gameday run`.
            try:
                append_run(result.run_dir, path, self.options.runs_dir)
            except GateError as exc:
                self.facilitator.say(f"the run history was not updated: {exc}")
        self._write_summary(ended=False)
        self.facilitator.say(
            f"Step {outcome.index + 1}: {result.verdict} (exit {result.exit_code}) "
            f"{result.reason or ''}".rstrip()
        )

    def _write_step_reports(self, run_dir: Path) -> None:
        try:
            write_reports(run_dir)
        except ReportError as exc:
            self.facilitator.say(f"the report of {run_dir} could not be written: {exc}")

    # -- results -----------------------------------------------------------------------

    def _verdict(self) -> tuple[str, int, str | None]:
        if self.stopped is not None:
            return self.stopped
        for outcome in self.steps:
            if outcome.exit_code not in (0, None):
                return (
                    outcome.verdict,
                    outcome.exit_code,
                    (f"step {outcome.index + 1} ({outcome.title}) {outcome.verdict}"),
                )
        return "held", 0, None

    def _write_summary(self, ended: bool) -> None:
        verdict, exit_code, reason = self._verdict() if ended else ("in_progress", -1, None)
        summary = {
            "kind": "gameday",
            "title": self.plan.title,
            "description": self.plan.description.strip(),
            "plan": str(self.loaded.path),
            "facilitation": str(self.loaded.facilitation) if self.loaded.facilitation else None,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(time.time()) if ended else None,
            "verdict": verdict,
            "exit_code": exit_code,
            "reason": reason,
            "steps": [
                {
                    "index": s.index,
                    "experiment": s.experiment,
                    "title": s.title,
                    "instructions": s.instructions,
                    "run_dir": os.path.relpath(s.run_dir.resolve(), self.dir.resolve())
                    if s.run_dir
                    else None,
                    "verdict": s.verdict,
                    "exit_code": s.exit_code,
                    "reason": s.reason,
                    "started_at": s.started_at,
                    "ended_at": s.ended_at,
                }
                for s in self.steps
            ],
        }
        (self.dir / GAMEDAY_FILE).write_text(json.dumps(summary, indent=2) + "\n", "utf-8")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def play(loaded: LoadedPlan, options: PlayOptions, facilitator: Facilitator) -> GamedayResult:
    """Run a validated plan (`load_plan`) from the main thread; always stops the load and
    the mesh it started, and writes the combined report, whatever happens. Raises
    `EmergencyStopActive` (nothing started) while `gameday stop` holds the runs folder, and
    `RunsFolderUnusable` (nothing started) when the runs folder cannot hold a run."""
    check_runs_dir(options.runs_dir)
    refuse_if_stopped(options.runs_dir)
    return _GameDay(loaded, options, facilitator).play()
