"""Typed errors of game-day mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the experiment package is heavy to import; `gameday note` needs none of it
    from chaos.experiment.errors import Issue


class GamedayError(Exception):
    """Base of every game-day error."""


class NoActiveRun(GamedayError):
    """No run or game day is in progress under the runs folder."""


class PlanError(GamedayError):
    """A game-day plan is not valid; `issues` lists every located problem."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))
