"""What each toxic type does to the data of one link (see docs/toxiproxy-compat.md section 3).

Coroutine behaviours put any data they own across an ``await`` into ``stage.held`` so that
an update or removal can pass it on untouched; filters handle one item synchronously.
"""

from __future__ import annotations

import asyncio
import random
from time import monotonic

from chaos.proxy.link import TIMED_OUT, Chunk, Filter, Item, Runner, Stage


async def sleep_until(deadline: float) -> None:
    """Sleep until monotonic() >= deadline; uvloop timers alone may fire up to 1 ms early."""
    while (remaining := deadline - monotonic()) > 0:
        await asyncio.sleep(remaining)


def _pass(stage: Stage, attrs: dict[str, int], item: Item) -> None:
    stage.emit(item)


def _limit_data(stage: Stage, attrs: dict[str, int], item: Item) -> None:
    # Bytes already passed are per-link state: they survive updates of the toxic.
    if item is None:
        stage.emit(None)
        return
    passed = stage.state.get("passed", 0)
    remaining = max(attrs["bytes"] - passed, 0)
    data = item.data
    if len(data) > remaining:
        stage.drop(len(data) - remaining)
        item.data = data = data[:remaining]
    if data:
        stage.state["passed"] = passed + len(data)
        stage.emit(item)
    if attrs["bytes"] - stage.state.get("passed", 0) <= 0:
        stage.close()


async def _latency(stage: Stage, attrs: dict[str, int]) -> None:
    latency, jitter = attrs["latency"], attrs["jitter"]
    while True:
        item = await stage.read()
        if item is None:
            stage.emit(None)
            return
        delay = latency + (random.randrange(-jitter, jitter) if jitter > 0 else 0)
        due = item.ts + delay / 1000
        if due > monotonic():
            stage.held = [item]
            await sleep_until(due)
            stage.held = []
            # Advance the timestamp so that stacked latency toxics add up.
            item.ts = due
        stage.emit(item)


async def _bandwidth(stage: Stage, attrs: dict[str, int]) -> None:
    rate = attrs["rate"]  # KB/s == bytes per millisecond
    # Emission times follow an absolute schedule, so neither timer overshoot nor the time
    # spent forwarding adds up (Toxiproxy carries the overshoot of each sleep instead).
    # An idle link gains no credit: the schedule restarts at a chunk's arrival.
    due = monotonic()
    while True:
        item = await stage.read()
        if item is None:
            stage.emit(None)
            return
        if rate == 0:
            # Rate 0 stalls the stream until the toxic is updated or removed.
            stage.held = [item]
            await asyncio.get_running_loop().create_future()
        due = max(due, item.ts)
        piece = rate * 100  # larger chunks go out in 100 ms pieces
        data = item.data
        while len(data) > piece:
            due += 0.1
            stage.held = [Chunk(data, item.ts)]
            await sleep_until(due)
            stage.emit(Chunk(data[:piece], item.ts))
            data = data[piece:]
        due += len(data) / rate / 1000
        stage.held = [Chunk(data, item.ts)]
        await sleep_until(due)
        stage.held = []
        stage.emit(Chunk(data, item.ts))


async def _slow_close(stage: Stage, attrs: dict[str, int]) -> None:
    while True:
        item = await stage.read()
        if item is None:
            stage.held = [None]
            await sleep_until(monotonic() + attrs["delay"] / 1000)
            stage.held = []
            stage.emit(None)
            return
        stage.emit(item)


async def _timeout(stage: Stage, attrs: dict[str, int]) -> None:
    # Swallows data; closes the link after `timeout` ms without any incoming data.
    timeout = attrs["timeout"] / 1000
    while True:
        item = await (stage.read_within(timeout) if timeout > 0 else stage.read())
        if item is TIMED_OUT or item is None:
            stage.close()
            return
        assert isinstance(item, Chunk)
        stage.drop(len(item.data))


async def _reset_peer(stage: Stage, attrs: dict[str, int]) -> None:
    # The RST itself comes from SO_LINGER=0, set when the connection was accepted.
    item = await stage.read()
    if isinstance(item, Chunk):
        stage.drop(len(item.data))
    await sleep_until(monotonic() + attrs["timeout"] / 1000)
    stage.close()


def slice_bounds(length: int, average: int, variation: int) -> list[int]:
    """Piece boundaries for a chunk of ``length`` bytes, as Toxiproxy's slicer cuts them."""
    bounds = [0]

    def cut(start: int, end: int) -> None:
        if (end - start) - average <= variation:
            bounds.append(end)
            return
        mid = start + (end - start) // 2
        if variation > 0:
            mid += random.randrange(variation * 2) - variation
        cut(start, mid)
        cut(mid, end)

    cut(0, length)
    return bounds


async def _slicer(stage: Stage, attrs: dict[str, int]) -> None:
    average, variation, delay = attrs["average_size"], attrs["size_variation"], attrs["delay"]
    while True:
        item = await stage.read()
        if item is None:
            stage.emit(None)
            return
        data = item.data
        bounds = slice_bounds(len(data), average, variation)
        for start, end in zip(bounds, bounds[1:], strict=False):
            stage.emit(Chunk(data[start:end], item.ts))
            if delay > 0:
                # Interrupted mid-way, the rest goes on in one piece.
                stage.held = [Chunk(data[end:], item.ts)] if end < len(data) else []
                await asyncio.sleep(delay / 1_000_000)
        stage.held = []


# Toxics that never wait run as synchronous filters; the others as one task per stage.
FILTERS: dict[str, Filter] = {"noop": _pass, "limit_data": _limit_data}
RUNNERS: dict[str, Runner] = {
    "latency": _latency,
    "bandwidth": _bandwidth,
    "slow_close": _slow_close,
    "timeout": _timeout,
    "reset_peer": _reset_peer,
    "slicer": _slicer,
}
PASS_THROUGH: Filter = _pass  # a stage whose toxicity draw said "not this link"
