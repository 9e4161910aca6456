"""The timeline recorder: a Chaos Toolkit control that stamps every phase and activity.

Add it to any experiment (`controls: [{name: gameday-timeline, provider: {type: python,
module: chaos.engine.controls}}]`); `gameday run` adds it itself. It writes to
`<gameday_run_dir>/timeline.jsonl` and does nothing when that key is not configured.
Hypotheses checked from a worker thread are the continuous checks during the method.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from chaos.engine.session import RunSession, session_for
from chaos.safety.ledger import RUN_DIR_CONFIG_KEY

CONTROL = {
    "name": "gameday-timeline",
    "provider": {"type": "python", "module": "chaos.engine.controls"},
}
FAULT_TARGET_ARGS = ("edge", "service", "proxy", "pod", "deployment", "selector")
FAULTS_PACKAGE = "chaos.faults."
# The undo functions of chaos.faults.* (network, process, kubernetes*): actions calling
# them lift a fault rather than apply one.
FAULT_UNDOS = frozenset(
    {
        "remove_toxics",
        "heal_partition",
        "resume_replicas",
        "remove_partition",
        "restore_scale",
        "remove_sidecar_toxics",
        "confirm_pods_replaced",
    }
)


def _session(configuration: dict[str, Any] | None) -> RunSession | None:
    run_dir = (configuration or {}).get(RUN_DIR_CONFIG_KEY)
    return session_for(run_dir) if run_dir else None


def _continuous() -> bool:
    return threading.current_thread() is not threading.main_thread()


def before_hypothesis_control(context: Any, configuration: Any = None, **_: Any) -> None:
    session = _session(configuration)
    if session is None or _continuous():
        return
    if not session.method_started:
        session.begin("steady_state_before")
    else:
        session.before_steady_state_after()
        session.begin("steady_state_after")


def after_hypothesis_control(
    context: Any, state: Any = None, configuration: Any = None, **_: Any
) -> None:
    session = _session(configuration)
    if session is None:
        return
    continuous = _continuous()
    phase = (
        "method"
        if continuous
        else ("steady_state_after" if session.method_started else "steady_state_before")
    )
    for probe in (state or {}).get("probes", []):
        activity = probe.get("activity", {})
        extra = {}
        if probe.get("exception"):
            extra["error"] = str(probe["exception"][-1]).strip()[:300]
        session.timeline.stamp(
            "check",
            probe=activity.get("name"),
            phase=phase,
            value=probe.get("output"),
            tolerance=activity.get("tolerance"),
            ok=bool(probe.get("tolerance_met")),
            status=probe.get("status"),
            **extra,
        )
    if not continuous:
        met = (state or {}).get("steady_state_met")
        session.end(phase, met=met)


def before_method_control(context: Any, configuration: Any = None, **_: Any) -> None:
    session = _session(configuration)
    if session is not None:
        session.method_started = True
        session.begin("method")


def after_method_control(
    context: Any, state: Any = None, configuration: Any = None, **_: Any
) -> None:
    session = _session(configuration)
    if session is not None:
        session.method_ended = True
        session.end("method")


def before_rollback_control(context: Any, configuration: Any = None, **_: Any) -> None:
    session = _session(configuration)
    if session is not None:
        session.in_rollbacks = True
        session.begin("rollbacks")


def after_rollback_control(
    context: Any, state: Any = None, configuration: Any = None, **_: Any
) -> None:
    session = _session(configuration)
    if session is not None:
        session.reconcile()
        session.end("rollbacks")


def _target_of(activity: dict[str, Any], output: Any) -> str | None:
    if isinstance(output, dict) and output.get("target"):
        return str(output["target"])
    arguments = activity.get("provider", {}).get("arguments") or {}
    if isinstance(arguments, dict):
        for key in FAULT_TARGET_ARGS:
            if arguments.get(key):
                return f"{key}={arguments[key]}"
    return None


def after_activity_control(
    context: Any, state: Any = None, configuration: Any = None, **_: Any
) -> None:
    session = _session(configuration)
    if session is None or session.activity_events or not isinstance(context, dict):
        return
    # Under a plain `chaos run` this control is the only recorder; it runs after the
    # activity's pause, so the activity's own end time is stamped.
    record_activity(session, context, state or {}, _end_ts(state or {}))


def _end_ts(run: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(run["end"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def record_activity(
    session: RunSession, activity: dict[str, Any], run: dict[str, Any], ts: float | None = None
) -> None:
    """Stamp a finished method action as a fault start, a rollback as a rollback."""
    name = activity.get("name")
    ok = run.get("status") == "succeeded"
    if session.in_rollbacks:
        session.timeline.stamp("rollback", ts=ts, id=name, ok=ok)
        session.reconcile()
        return
    if not session.method_started or session.method_ended or _continuous_probe(activity):
        return
    output = run.get("output")
    ledger_id = output.get("ledger_id") if isinstance(output, dict) else None
    undo = activity.get("type") == "action" and ledger_id is None and _is_undo(session, activity)
    if activity.get("type") == "action" and ok and not undo:
        session.fault_started(name, ledger_id, _target_of(activity, output), ts=ts)
    else:
        # An undo is not a fault of its own: the fault it lifted ends below, when its
        # ledger entry (settled by the undo) is reconciled.
        session.timeline.stamp(
            "activity",
            ts=ts,
            name=name,
            type=activity.get("type"),
            ok=ok,
            output=_short(output),
            **({"undo": True} if undo else {}),
        )
    session.reconcile()


def _is_undo(session: RunSession, activity: dict[str, Any]) -> bool:
    """An action that calls an undo: one this run's ledger names for a fault, or one of
    the undos of our own fault modules (also when no fault was applied in this run)."""
    provider = activity.get("provider") or {}
    module, func = provider.get("module"), provider.get("func")
    if provider.get("type") != "python" or not module or not func:
        return False
    if str(module).startswith(FAULTS_PACKAGE) and func in FAULT_UNDOS:
        return True
    if session.ledger is None:
        return False
    try:
        entries = session.ledger.entries()
    except Exception:  # noqa: BLE001 - unreadable now: treated as not an undo
        return False
    return any(entry.undo.module == module and entry.undo.func == func for entry in entries)


def _continuous_probe(activity: dict[str, Any]) -> bool:
    # Hypothesis probes run from the continuous checker's thread; their checks are
    # stamped by after_hypothesis_control.
    return _continuous() and activity.get("type") == "probe" and "tolerance" in activity


def _short(output: Any) -> Any:
    text = repr(output)
    return output if len(text) <= 500 else text[:500] + "…"
