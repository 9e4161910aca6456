"""Typed errors of Chaos Monkey mode."""

from __future__ import annotations


class MonkeyError(Exception):
    """Base of every error raised by `chaos.monkey`."""


class MonkeyConfigError(MonkeyError):
    """A monkey setting (window, interval, budget, services) is not usable."""
