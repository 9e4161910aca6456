"""Ctrl-C, SIGTERM and guardrail aborts become one exception in the main thread.

chaostoolkit-lib records a SIGTERM raised inside a Python activity as a failed step and
carries on; a `KeyboardInterrupt` subclass instead unwinds the method and the toolkit
marks the run interrupted and plays the rollbacks. The guard raises only once and never
while rollbacks run (a second Ctrl-C must not cut them short).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was interrupted (a signal) or aborted (a guardrail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InterruptGuard:
    """Installs SIGINT/SIGTERM handlers that raise `Interrupted` while armed."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.signals: list[str] = []
        self._armed = False
        self._raised = False
        self._pending_abort: str | None = None
        self._previous: dict[int, Any] = {}
        self._main = threading.main_thread()

    def install(self) -> None:
        """(Re)install the handlers; call from the main thread."""
        for signum in HANDLED:
            previous = signal.signal(signum, self._handle)
            self._previous.setdefault(signum, previous)

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def arm(self) -> None:
        self._armed = True

    def disarm(self) -> None:
        self._armed = False

    @property
    def interrupted(self) -> bool:
        return self.reason is not None

    def abort(self, reason: str) -> None:
        """From any thread: stop the run as if interrupted, with `reason`."""
        if self.reason is None:
            self._pending_abort = reason
        if self._armed and not self._raised:
            signal.pthread_kill(self._main.ident or 0, signal.SIGINT)
        elif self.reason is None:
            self.reason = reason

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._pending_abort is None:
            self.signals.append(name)
        if self.reason is None:
            self.reason = self._pending_abort or f"interrupted by {name}"
        if self._armed and not self._raised:
            self._raised = True
            self._armed = False
            raise Interrupted(self.reason)
