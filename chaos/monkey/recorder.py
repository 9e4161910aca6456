"""Record a monkey run in a run folder like any experiment's: `experiment.json` (the monkey's
settings), `timeline.jsonl` (a `fault` start/end pair per kill, notes for dry-run kills,
skips and waits), `ledger.jsonl` (an intent line before each kill, `applied` after) and
`summary.json`.

A kill lapses the moment it lands (the supervisor replaces the replica, as a ReplicaSet
would), so its entry goes intent → applied → expired and nothing is left for `gameday
rollback`; if the monkey dies between intent and applied, the recorded undo,
`confirm_replaced`, only confirms the replacement.
"""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.monkey.monkey import STOP_VERDICTS, KillRecord, MonkeyConfig, MonkeyResult
from chaos.safety.ledger import Ledger, UndoSpec

SLUG = "monkey"
KILL_FAULT = "kill_replica"


def new_run_dir(runs_dir: Path, at: datetime) -> Path:
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = runs_dir / f"{stamp}-{SLUG}"
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = runs_dir / f"{stamp}-{SLUG}-{suffix}"
    run_dir.mkdir(parents=True)
    return run_dir


class RunFolderRecorder:
    """A `MonkeyObserver` that writes the run folder as the monkey goes."""

    def __init__(
        self, run_dir: Path, config: MonkeyConfig, mesh_state: Path | None, target: str = "local"
    ) -> None:
        self.run_dir = run_dir
        self.config = config
        self.mesh_state = mesh_state
        self.target = target
        self.ledger = Ledger(run_dir / "ledger.jsonl")
        self.title = f"Chaos Monkey: {', '.join(config.services)}"
        self._started: datetime | None = None
        self._kills = 0
        self._pending: dict[int, Any] = {}

    # -- MonkeyObserver ------------------------------------------------------------------

    def started(self, at: datetime) -> None:
        self._started = at
        settings = self.config.model_dump(mode="json")
        settings["windows"] = [str(window) for window in self.config.windows]
        experiment = {"title": self.title, "tags": ["monkey"], "monkey": settings}
        (self.run_dir / "experiment.json").write_text(json.dumps(experiment, indent=2) + "\n")
        self._event(at.timestamp(), "phase", name="method", edge="start")

    def before_kill(self, service: str, index: int, pid: int, at: datetime) -> None:
        """Write the ledger intent; called just before the signal is sent."""
        entry = self.ledger.record_intent(
            KILL_FAULT,
            f"{service}[{index}]",
            UndoSpec(
                module="chaos.monkey.replicas",
                func="confirm_replaced",
                arguments={
                    "service": service,
                    "index": index,
                    "killed_pid": pid,
                    "mesh_state": str(self.mesh_state) if self.mesh_state else None,
                },
            ),
            expires_at=at.timestamp(),
            run_dir=self.run_dir,
        )
        self._pending[pid] = entry

    def killed(self, record: KillRecord) -> None:
        target = f"{record.service}[{record.index}]"
        if record.dry_run:
            self._event(
                record.ts,
                "note",
                text=f"dry run: would kill {target} (pid {record.pid})",
                author=SLUG,
            )
            return
        self._kills += 1
        entry = self._pending.pop(record.pid, None)
        if entry is not None:
            self.ledger.mark(self.ledger.mark(entry, "applied"), "expired")
        fault = {
            "id": f"kill-{self._kills}",
            "name": KILL_FAULT,
            "target": target,
            "pid": record.pid,
            "signal": signal.Signals(self.config.signal).name,
        }
        self._event(record.ts, "fault", edge="start", **fault)
        self._event(record.ts, "fault", edge="end", **fault)

    def skipped(self, at: datetime, why: str) -> None:
        self._event(at.timestamp(), "note", text=f"no kill: {why}", author=SLUG)

    def waiting(self, at: datetime, until: datetime, why: str) -> None:
        self._event(
            at.timestamp(), "note", text=f"waiting until {until.isoformat()}: {why}", author=SLUG
        )

    def finished(self, at: datetime, result: MonkeyResult) -> None:
        self._event(at.timestamp(), "phase", name="method", edge="end")
        verdict, exit_code = STOP_VERDICTS[result.reason]
        done = sum(1 for kill in result.kills if not kill.dry_run)
        planned = len(result.kills) - done
        summary = {
            "verdict": verdict,
            "exit_code": exit_code,
            "title": self.title,
            "slug": SLUG,
            "started_at": _iso(self._started or at),
            "ended_at": _iso(at),
            "target": self.target,
            "reason": f"{result.reason}: {done} kill(s), {planned} dry-run kill(s), "
            f"{result.skipped} skipped",
        }
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    # -- helpers -------------------------------------------------------------------------

    def _event(self, ts: float, kind: str, **fields: Any) -> None:
        with (self.run_dir / "timeline.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"ts": ts, "kind": kind, **fields}) + "\n")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
