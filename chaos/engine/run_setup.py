"""Setting a run up, the same way under `gameday run` and under a plain `chaos run` (with
the `chaos.engine.chaos_run` control): the configuration keys our providers read, the
experiment's Locust load, and the warm-up and baseline phases before the hypothesis."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaos.engine.session import RunSession
from chaos.engine.target import CouldNotRun, PreparedTarget
from chaos.experiment.models import LoadProfile

ACK_ENV = "GAMEDAY_ACK_FILE"
# The run's trace id: the shop locustfile sends it as W3C baggage (`gameday.run_trace`).
RUN_TRACE_ENV = "GAMEDAY_RUN_TRACE_ID"


def run_configuration(
    configuration: dict[str, Any] | None, prepared: PreparedTarget, run_dir: Path, ledger: Path
) -> dict[str, Any]:
    """The experiment's configuration with the target's keys and the run's own:
    `gameday_run_dir`, `gameday_ledger`, `gameday_ack_file`, `gameday_proxy_api`,
    `gameday_mesh_state`."""
    result = dict(configuration or {})
    result.update(prepared.configuration)
    result.update(
        {
            "gameday_run_dir": str(run_dir.resolve()),
            "gameday_ledger": str(ledger.resolve()),
            "gameday_ack_file": str((run_dir / "load" / "acks.jsonl").resolve()),
        }
    )
    if prepared.proxy_api:
        result["gameday_proxy_api"] = prepared.proxy_api
    if prepared.state_path:
        result["gameday_mesh_state"] = str(Path(prepared.state_path).resolve())
    return result


def start_load(
    load: LoadProfile, prepared: PreparedTarget, run_dir: Path, trace_id: str | None = None
) -> Any:
    """Start Locust with the experiment's load profile into `run_dir/load` and wait until
    it is ready; returns the `LoadRunner`. `trace_id` (the run's trace) reaches the
    locustfile as env `GAMEDAY_RUN_TRACE_ID`. Raises CouldNotRun."""
    from chaos.load import LoadError, LoadRunner, LoadSpec

    host = load.host or prepared.gateway_url
    if not host:
        raise CouldNotRun("no host to send load to: set load.host for this target, or load: false")
    load_dir = run_dir / "load"
    try:
        # The experiment's load profile was validated already; what can still be wrong
        # here comes from the target (say, a gateway URL it reported).
        spec = LoadSpec(
            host=host,
            users=load.users,
            spawn_rate=load.spawn_rate,
            locustfile=Path(load.locustfile) if load.locustfile else None,
            user_classes=load.user_classes,
            workers=load.workers,
            output_dir=load_dir,
            env={
                ACK_ENV: str((load_dir / "acks.jsonl").resolve()),
                **({RUN_TRACE_ENV: trace_id} if trace_id else {}),
            },
        )
    except ValidationError as exc:
        problems = "; ".join(error["msg"] for error in exc.errors())
        raise CouldNotRun(f"load cannot start against {host!r}: {problems}") from exc
    runner = LoadRunner(spec)
    try:
        runner.start()
        runner.wait_ready(timeout=load.ready_timeout_s)
    except LoadError as exc:
        runner.stop()
        raise CouldNotRun(f"load did not start: {exc}") from exc
    except BaseException:
        runner.stop()  # interrupted while starting: no Locust is left behind
        raise
    return runner


def warmup_and_baseline(
    load: LoadProfile, session: RunSession, sleep: Callable[[float], None] = time.sleep
) -> None:
    for name, seconds in (("warmup", load.warmup_s), ("baseline", load.baseline_s)):
        if seconds <= 0:
            continue
        session.begin(name, duration_s=seconds)
        sleep(seconds)
        session.end(name)
