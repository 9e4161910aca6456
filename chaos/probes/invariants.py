"""Data-integrity probes of the sample shop: no acknowledged order lost or charged twice,
and the notifications outbox backlog.

They wrap `chaos.targets.shop.invariants.check_invariants(state, ack_file)`. The ack file (one
line per order the shop acknowledged to the load) is configuration `gameday_ack_file`,
else env `GAMEDAY_ACK_FILE`, else `<gameday_run_dir>/load/acks.jsonl`; with none of them
(a plain `chaos run` without load) the audit checks charges, stock and notifications but
cannot tell whether an acknowledged order was lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.faults.errors import TargetUnknown
from chaos.faults.locate import find_mesh_state
from chaos.probes.errors import InvalidProbeArgument, NotReady, ProbeError, ProbeTargetUnknown
from chaos.safety.ledger import RUN_DIR_CONFIG_KEY

if TYPE_CHECKING:
    from chaos.targets.shop.invariants import InvariantReport

__all__ = ["invariants_hold", "outbox_backlog", "outbox_drains_within"]

ACK_FILE_KEY = "gameday_ack_file"
ACK_FILE_ENV = "GAMEDAY_ACK_FILE"
Configuration = Mapping[str, Any] | None


class AuditFailed(ProbeError):
    """The invariant audit could not run (a database or the ack file is unreadable)."""


def ack_file(configuration: Configuration) -> Path | None:
    configured = (configuration or {}).get(ACK_FILE_KEY) or os.environ.get(ACK_FILE_ENV)
    if configured:
        return Path(configured)
    run_dir = (configuration or {}).get(RUN_DIR_CONFIG_KEY)
    return Path(run_dir) / "load" / "acks.jsonl" if run_dir else None


def _report(configuration: Configuration) -> InvariantReport:
    from chaos.targets.shop.invariants import InvariantError, check_invariants

    try:
        state = find_mesh_state(configuration)
    except TargetUnknown as exc:
        raise ProbeTargetUnknown(str(exc)) from exc
    try:
        return check_invariants(state, ack_file(configuration))
    except InvariantError as exc:
        raise AuditFailed(f"the invariant audit could not run: {exc}") from exc


def invariants_hold(configuration: Configuration = None) -> bool:
    """True when every invariant holds: no acknowledged order lost, none charged twice,
    no reservation or charge left behind by a compensated order."""
    return bool(_report(configuration).ok)


def outbox_backlog(configuration: Configuration = None) -> int:
    """Events waiting in the orders outbox for notifications (0 when drained)."""
    return int(_report(configuration).outbox_backlog)


def outbox_drains_within(
    timeout_s: float = 20, poll_s: float = 0.5, configuration: Configuration = None
) -> float:
    """Wait until the outbox backlog is 0 and return how many seconds that took; raises
    `NotReady` if it is still not drained after `timeout_s`."""
    if not 0 < timeout_s <= 600:
        raise InvalidProbeArgument(f"timeout_s must be > 0 and <= 600, not {timeout_s}")
    if not 0 < poll_s <= timeout_s:
        raise InvalidProbeArgument(f"poll_s must be > 0 and <= timeout_s, not {poll_s}")
    started = time.monotonic()
    backlog = outbox_backlog(configuration)
    while backlog > 0:
        if time.monotonic() - started >= timeout_s:
            raise NotReady(f"outbox still holds {backlog} events after {timeout_s} s")
        time.sleep(poll_s)
        backlog = outbox_backlog(configuration)
    return round(time.monotonic() - started, 3)
