"""Typed errors of the fault providers (Chaos Toolkit records their message in the journal)."""

from __future__ import annotations


class FaultError(Exception):
    """Base of every fault provider error."""


class InvalidFaultArgument(FaultError, ValueError):
    """An argument is missing, out of range, or contradicts another one."""


class TargetNotFound(FaultError):
    """The edge, service, proxy or replica named by the experiment does not exist."""


class TargetUnknown(FaultError):
    """Where the target lives (proxy API, mesh state) could not be found."""


class FaultNotApplied(FaultError):
    """Applying the fault failed; the message says whether it changed nothing, was undone,
    or (its undo failed too) is left outstanding in the ledger."""
