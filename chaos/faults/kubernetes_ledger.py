"""How a fault on a Kubernetes cluster is recorded, applied and settled in the ledger.

Shared by `chaos.faults.kubernetes`, `kubernetes_network` and `kubernetes_node`: the
connection an undo needs later, the blast-radius scope, and `record_and_apply` (ledger
intent, apply, then applied; or not_applied, undone, or left outstanding with a message
that says which).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaos.faults.errors import FaultNotApplied
from chaos.k8s.client import KubeApi, cluster_settings, connect
from chaos.k8s.errors import KubernetesError
from chaos.safety.k8s_scope import K8sScope
from chaos.safety.ledger import (
    LedgerEntry,
    UndoFailed,
    UndoSpec,
    find_ledger,
    run_dir_of,
    undo_entry,
)

Configuration = Mapping[str, Any] | None


def cluster_of(configuration: Configuration) -> dict[str, Any]:
    """The connection settings an undo needs to find the same cluster later."""
    return cluster_settings(configuration)


def connect_to(configuration: Configuration, cluster: Mapping[str, Any] | None = None) -> KubeApi:
    # The cluster recorded with an undo wins: it is where the fault was applied.
    return connect({**(configuration or {}), **(cluster or {})})


def fault_scope(configuration: Configuration, dry_run: bool) -> K8sScope:
    return K8sScope.from_configuration(configuration, dry_run=dry_run)


class NothingChanged(Exception):
    """Raised by a fault's `apply` when it failed before changing anything, so the ledger
    entry is settled as `not_applied` instead of waiting for an undo that cannot run
    (e.g. a sidecar no port-forward reaches)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def refused(exc: KubernetesError) -> bool:
    """A definite no from the API server (4xx): the request changed nothing. A timeout or
    a 5xx may have been applied all the same."""
    return 400 <= exc.status < 500


def _explain(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def record_and_apply(
    *,
    kind: str,
    target: str,
    undo_func: str,
    undo_arguments: dict[str, Any],
    configuration: Configuration,
    apply: Callable[[], dict[str, Any]],
    module: str,
) -> dict[str, Any]:
    """Ledger intent → apply → applied. When applying fails: before any change, settle the
    entry as not applied; after some change, undo it, and if the undo fails too, leave
    the entry outstanding for `gameday rollback` and say so. Raises FaultNotApplied."""
    ledger = find_ledger(configuration)
    entry = ledger.record_intent(
        kind,
        target,
        UndoSpec(module=module, func=undo_func, arguments=undo_arguments),
        run_dir=run_dir_of(configuration),
    )
    try:
        result = apply()
    except NothingChanged as exc:
        ledger.mark(entry, "not_applied")
        raise FaultNotApplied(
            f"{kind} on {target} was not applied (nothing was changed): {_explain(exc.cause)}"
        ) from exc.cause
    except Exception as exc:
        try:
            undo_entry(entry, ledger)
        except UndoFailed as failure:
            raise FaultNotApplied(
                f"{kind} on {target} failed part way ({_explain(exc)}) and its undo failed "
                f"too ({failure.reason}); ledger entry {entry.id} in {ledger.path} stays "
                "outstanding: run `gameday rollback` once the cluster is reachable, or "
                f"`gameday rollback --forget {entry.id}` if its target is gone"
            ) from exc
        raise FaultNotApplied(f"{kind} on {target} failed and was undone: {_explain(exc)}") from exc
    ledger.mark(entry, "applied")
    return {"ledger_id": entry.id, "kind": kind, "target": target, "dry_run": False, **result}


def settle(
    configuration: Configuration,
    func: str,
    covers: Callable[[dict], bool],
    module: str,
) -> None:
    """Mark outstanding ledger entries that this undo has just reversed as undone."""

    def matches(entry: LedgerEntry) -> bool:
        return (
            entry.undo.module == module and entry.undo.func == func and covers(entry.undo.arguments)
        )

    find_ledger(configuration).settle(matches, "undone")
