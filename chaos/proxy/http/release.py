"""One direction's output in order, each piece not before its due time (HTTP delays).

Pieces due now go straight out while nothing waits ahead of them; a held piece holds every
piece behind it, so delays never reorder bytes. One timer per direction, no task.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from time import monotonic

# Markers that travel in order with the bytes.
EOF = "eof"
RESET = "reset"
Item = bytes | str


class TimedRelease:
    """Sends ``bytes`` through ``send``, ``EOF`` through ``end``, ``RESET`` through ``reset``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        send: Callable[[bytes], None],
        end: Callable[[], None],
        reset: Callable[[], None],
        hold: Callable[[int], None],
        unhold: Callable[[int], None],
    ) -> None:
        self._loop = loop
        self._send = send
        self._end = end
        self._reset = reset
        self._hold = hold
        self._unhold = unhold
        self._queue: deque[tuple[float, Item]] = deque()
        self._tail_due = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def empty(self) -> bool:
        return not self._queue

    def push(self, due: float, item: Item) -> None:
        """Send ``item`` at ``due`` (monotonic seconds; 0 = now), after everything queued."""
        if not self._queue and (due == 0.0 or due <= monotonic()):
            self._out(item)
            return
        due = max(due, self._tail_due)
        self._tail_due = due
        self._queue.append((due, item))
        if isinstance(item, bytes):
            self._hold(len(item))
        if len(self._queue) == 1:
            self._arm(due)

    def stop(self) -> None:
        """Drop everything held (the connection is gone)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for _, item in self._queue:
            if isinstance(item, bytes):
                self._unhold(len(item))
        self._queue.clear()

    def _arm(self, due: float) -> None:
        self._timer = self._loop.call_later(max(due - monotonic(), 0.0), self._release)

    def _release(self) -> None:
        self._timer = None
        now = monotonic()
        queue = self._queue
        while queue:
            due, item = queue[0]
            if due > now:
                # Timers may fire a little early; never send early.
                self._arm(due)
                return
            queue.popleft()
            if isinstance(item, bytes):
                self._unhold(len(item))
            self._out(item)

    def _out(self, item: Item) -> None:
        if isinstance(item, bytes):
            self._send(item)
        elif item == EOF:
            self._end()
        else:
            self._reset()
