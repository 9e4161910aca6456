"""Typed errors of the probe providers (Chaos Toolkit records their message in the journal)."""

from __future__ import annotations


class ProbeError(Exception):
    """Base of every probe error."""


class InvalidProbeArgument(ProbeError, ValueError):
    """An argument is missing, out of range, or contradicts another one."""


class ProbeTargetUnknown(ProbeError):
    """What the probe measures (run folder, mesh, ack file) could not be found."""


class NoData(ProbeError):
    """There is nothing to measure (no requests in the window, an empty query result)."""


class ProbeUnreachable(ProbeError):
    """The measured endpoint did not answer within the probe's timeout."""


class NotReady(ProbeError):
    """What the probe waits for did not happen within its timeout."""
