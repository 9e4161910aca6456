"""Typed errors of the incident scaffold."""

from __future__ import annotations


class IncidentError(Exception):
    """An incident fact is not usable, or the scaffold cannot be written."""
