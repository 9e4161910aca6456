"""Typed errors of the game-day console."""

from __future__ import annotations


class ConsoleError(Exception):
    """The console could not start or an action could not be taken."""


class ConsoleNotStarted(ConsoleError):
    """The address could not be bound or the server did not come up."""
