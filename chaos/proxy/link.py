"""One direction of a proxied connection: source socket -> toxic stages -> destination.

A link without toxics forwards each chunk straight to the destination transport (the fast
path). A connection with HTTP toxics puts its HTTP layer (``chaos.proxy.http``) in front
of both links' chains; links of other connections never call into it. With toxics, chunks
flow through a chain of stages; each stage is one toxic with its own input queue and, for
toxics that wait, its own task. The API changes the chain synchronously on the event loop,
so a change never waits for a link to acknowledge it:

- add: a stage is appended; data already in earlier stages flows into it.
- update: the stage's task is cancelled, the data it holds goes on to the next stage, and
  it restarts with the new values (toxicity re-drawn, per-link state kept).
- remove: the data it holds and its queue go on to the next stage, then it is spliced out.

Every toxic keeps whatever data it owns across an ``await`` in ``Stage.held``, so a
cancelled stage never loses or reorders data.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine
from time import monotonic
from typing import Any, Protocol

from chaos.proxy.toxics import ToxicSpec

log = logging.getLogger(__name__)

# Pause reading the source while this much data waits inside the toxic chain; generous,
# so that a latency toxic does not throttle throughput (Toxiproxy buffers 1024 chunks).
HIGH_WATER = 16 * 1024 * 1024
LOW_WATER = 4 * 1024 * 1024


class Chunk:
    """Bytes read from the source and the time they were read (moved on by latency)."""

    __slots__ = ("data", "ts")

    def __init__(self, data: bytes, ts: float) -> None:
        self.data = data
        self.ts = ts


# A queue item is a Chunk or EOF (None).
Item = Chunk | None


class Destination(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def close(self) -> None: ...
    def is_closing(self) -> bool: ...


class Source(Protocol):
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


# A toxic behaviour is either a coroutine that runs a stage, or a synchronous filter that
# handles one item at a time (cheaper: no task switch per chunk).
Runner = Callable[["Stage", dict[str, int]], Coroutine[Any, Any, None]]
Filter = Callable[["Stage", dict[str, int], Item], None]


class Stage:
    """One toxic on one link."""

    __slots__ = ("link", "toxic", "input", "held", "state", "task", "waiter", "done", "filter")

    def __init__(self, link: Link, toxic: ToxicSpec) -> None:
        self.link = link
        self.toxic = toxic
        self.input: deque[Item] = deque()
        self.held: list[Item] = []
        self.state: dict[str, int] = {}
        self.task: asyncio.Task[None] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.done = False
        self.filter: Filter | None = None

    # -- used by the link ----------------------------------------------------------------

    def start(self) -> None:
        from chaos.proxy.behaviours import FILTERS, PASS_THROUGH, RUNNERS  # imports us

        toxic = self.toxic
        active = toxic.toxicity >= 1 or random.random() < toxic.toxicity
        runner = RUNNERS.get(toxic.type) if active else None
        if runner is None:
            self.filter = FILTERS[toxic.type] if active else PASS_THROUGH
            pending, self.input = self.input, deque()
            for item in pending:
                # push() also accounts for items that arrive after the filter ended the link.
                self.push(item)
        else:
            self.filter = None
            self.task = self.link.loop.create_task(runner(self, toxic.attributes))
            self.task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # A toxic that fails must not leave its connection hanging: end the link.
        log.error(
            "toxic %r failed on a %s link; closing it",
            self.toxic.name,
            self.link.direction,
            exc_info=task.exception(),
        )
        if self.task is task:
            self.task = None
            self.held = []
            if not self.done:
                self.close()

    def interrupt(self) -> list[Item]:
        """Stop the stage's task; return the data it held (to be passed on)."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        held, self.held = self.held, []
        return held

    def push(self, item: Item) -> None:
        if self.done:
            if item is not None:
                self.link.discard(len(item.data))
            return
        if self.filter is not None:
            self.filter(self, self.toxic.attributes, item)
            return
        self.input.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- used by toxic behaviours --------------------------------------------------------

    async def read(self) -> Item:
        """The next item (EOF is None)."""
        while not self.input:
            waiter = self.waiter = self.link.loop.create_future()
            try:
                await waiter
            finally:
                if self.waiter is waiter:
                    self.waiter = None
        return self.input.popleft()

    async def read_within(self, timeout: float) -> Item | TimedOut:
        """The next item, or TIMED_OUT if none came within ``timeout`` seconds."""
        if not self.input:
            loop = self.link.loop
            waiter = self.waiter = loop.create_future()
            timer = loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                if self.waiter is waiter:
                    self.waiter = None
            if not self.input:
                return TIMED_OUT
        return self.input.popleft()

    def emit(self, item: Item) -> None:
        """Pass an item on to the next stage (or the destination); EOF ends the stage."""
        if item is None:
            self.done = True
        self.link.deliver_after(self, item)

    def drop(self, nbytes: int) -> None:
        """Account for data that this toxic swallows."""
        self.link.discard(nbytes)

    def close(self) -> None:
        """End the link here: drop whatever is queued and send EOF on."""
        for item in self.input:
            if item is not None:
                self.link.discard(len(item.data))
        self.input.clear()
        self.emit(None)


class TimedOut:
    __slots__ = ()


TIMED_OUT = TimedOut()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Link:
    """One direction of a connection (``upstream`` = client to server)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        direction: str,
        source: Source | None,
        destination: Destination,
        toxics: list[ToxicSpec],
        on_end: Callable[[Link], None] | None = None,
    ) -> None:
        self.loop = loop
        self.direction = direction
        self.source = source
        self.dst = destination
        self.stages: list[Stage] = []
        self.received = 0
        self.sent = 0
        self.queued = 0
        self.finished = False
        self.dst_paused = False
        self.src_paused = False
        self.on_end = on_end
        # Set while the connection has HTTP toxics: bytes from the source go to the HTTP
        # layer, which sends them on through forward()/forward_eof().
        self.front: Callable[[bytes], None] | None = None
        self.front_eof: Callable[[], None] | None = None
        for toxic in toxics:
            stage = Stage(self, toxic)
            self.stages.append(stage)
        for stage in self.stages:
            stage.start()

    # -- source side ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        if self.front is not None:
            self.front(data)
            return
        self.forward(data)

    def forward(self, data: bytes) -> None:
        """Send bytes on through the toxic chain (the HTTP layer's way back in)."""
        n = len(data)
        if not self.stages:
            if not self.finished:
                self.sent += n
                self.dst.write(data)
            return
        self.queued += n
        self.stages[0].push(Chunk(data, monotonic()))
        if self.queued > HIGH_WATER:
            self._flow()

    def feed_view(self, view: memoryview) -> bool:
        """Forward bytes read into a reusable buffer.

        Returns True if the destination kept a reference to the buffer (it could not
        send everything at once): the caller must not read into it again before the
        destination has sent it.
        """
        if self.stages or self.finished or self.front is not None:
            self.feed(bytes(view))
            return False
        n = len(view)
        self.received += n
        self.sent += n
        dst = self.dst
        dst.write(view)
        return dst.get_write_buffer_size() > 0

    def feed_eof(self) -> None:
        if self.front_eof is not None:
            self.front_eof()
            return
        self.forward_eof()

    def forward_eof(self) -> None:
        if self.stages:
            self.stages[0].push(None)
        else:
            self._sink(None)

    # -- chain ---------------------------------------------------------------------------

    def deliver_after(self, stage: Stage, item: Item) -> None:
        try:
            index = self.stages.index(stage) + 1
        except ValueError:
            # A stage that was spliced out; its data was handed on when it was removed.
            if item is not None:
                self.discard(len(item.data))
            return
        self._deliver_at(index, item)

    def _deliver_at(self, index: int, item: Item) -> None:
        if index < len(self.stages):
            self.stages[index].push(item)
        else:
            self._sink(item)

    def _sink(self, item: Item) -> None:
        if self.finished:
            if item is not None:
                self.discard(len(item.data))
            return
        if item is None:
            self.finished = True
            self.dst.close()
            if self.on_end is not None:
                self.on_end(self)
            return
        n = len(item.data)
        self.queued -= n
        if self.dst.is_closing():
            return
        self.sent += n
        self.dst.write(item.data)
        if self.src_paused and self.queued < LOW_WATER:
            self._flow()

    def hold(self, nbytes: int) -> None:
        """Account for bytes the HTTP layer holds back, so a long hold pauses the source."""
        self.queued += nbytes
        if self.queued > HIGH_WATER:
            self._flow()

    def unhold(self, nbytes: int) -> None:
        self.discard(nbytes)

    def discard(self, nbytes: int) -> None:
        self.queued -= nbytes
        if self.src_paused and self.queued < LOW_WATER:
            self._flow()

    # -- flow control --------------------------------------------------------------------

    def set_dst_paused(self, paused: bool) -> None:
        self.dst_paused = paused
        self._flow()

    def _flow(self) -> None:
        want_pause = self.dst_paused or self.queued > HIGH_WATER
        if self.src_paused and not want_pause and self.queued < LOW_WATER:
            self.src_paused = False
            if self.source is not None:
                self.source.resume_reading()
        elif want_pause and not self.src_paused:
            self.src_paused = True
            if self.source is not None:
                self.source.pause_reading()

    # -- live changes from the API -------------------------------------------------------

    def add_toxic(self, toxic: ToxicSpec) -> None:
        if self.finished:
            return
        stage = Stage(self, toxic)
        self.stages.append(stage)
        stage.start()

    def update_toxic(self, toxic: ToxicSpec) -> None:
        stage = self._stage(toxic.name)
        if stage is None:
            return
        stage.toxic = toxic
        if stage.done:
            return
        held = stage.interrupt()
        index = self.stages.index(stage) + 1
        for item in held:
            self._deliver_at(index, item)
        stage.start()

    def remove_toxic(self, name: str, close: bool = False) -> None:
        """Splice a toxic out; ``close`` ends the link instead of passing its data on."""
        stage = self._stage(name)
        if stage is None:
            return
        index = self.stages.index(stage)
        items = stage.interrupt() + list(stage.input)
        stage.input.clear()
        stage.filter = None
        already_done = stage.done
        stage.done = True
        del self.stages[index]
        if close:
            for item in items:
                if item is not None:
                    self.discard(len(item.data))
            if not already_done:
                self._deliver_at(index, None)
            return
        for item in items:
            self._deliver_at(index, item)

    def _stage(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.toxic.name == name:
                return stage
        return None

    def stop(self) -> None:
        """Cancel every stage task (the connection is being torn down)."""
        self.finished = True
        for stage in self.stages:
            stage.interrupt()
            stage.done = True
