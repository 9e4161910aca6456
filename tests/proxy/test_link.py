"""Toxic chains on one link, driven directly (no sockets): byte counts, pieces, order."""

from __future__ import annotations

import asyncio
from time import monotonic

from chaos.proxy.behaviours import slice_bounds
from chaos.proxy.link import Link
from chaos.proxy.toxics import ATTRIBUTES, ToxicSpec


class Recorder:
    """A destination transport that records every write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed_at: float | None = None

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed_at = monotonic()

    def is_closing(self) -> bool:
        return self.closed_at is not None

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


def toxic(type_: str, name: str | None = None, toxicity: float = 1.0, **attrs: int) -> ToxicSpec:
    values = dict.fromkeys(ATTRIBUTES[type_], 0) | attrs
    return ToxicSpec(name or type_, type_, "downstream", toxicity, values)


def downstream_link(*toxics: ToxicSpec) -> tuple[Link, Recorder]:
    """A downstream link on the running loop, writing into a fresh Recorder."""
    dst = Recorder()
    return Link(asyncio.get_running_loop(), "downstream", None, dst, list(toxics)), dst


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def limit_link(limit: int, *chunks: bytes) -> Recorder:
    async def main() -> Recorder:
        link, dst = downstream_link(toxic("limit_data", bytes=limit))
        for chunk in chunks:
            link.feed(chunk)
        return dst

    return run(main())


def test_limit_data_chunk_smaller_than_limit():
    dst = limit_link(100, b"x" * 50)
    assert dst.data == b"x" * 50 and dst.closed_at is None


def test_limit_data_chunk_length_matches_limit():
    dst = limit_link(100, b"x" * 100)
    assert dst.data == b"x" * 100 and dst.closed_at is not None


def test_limit_data_chunk_bigger_than_limit():
    dst = limit_link(100, bytes(range(150)))
    assert dst.data == bytes(range(100)) and dst.closed_at is not None


def test_limit_data_multiple_chunks_match_limit():
    dst = limit_link(100, *(b"y" * 25 for _ in range(4)))
    assert len(dst.data) == 100 and dst.closed_at is not None


def test_limit_data_second_chunk_would_overflow():
    dst = limit_link(100, b"a" * 90, b"b" * 20)
    assert dst.data == b"a" * 90 + b"b" * 10 and dst.closed_at is not None


def test_limit_data_zero_passes_nothing_and_closes_on_first_chunk():
    async def main() -> None:
        link, dst = downstream_link(toxic("limit_data"))
        assert dst.closed_at is None  # not at connect time
        link.feed(b"hello")
        assert dst.data == b"" and dst.closed_at is not None

    run(main())


def test_limit_data_state_survives_update():
    async def main() -> None:
        limit = toxic("limit_data", bytes=100)
        link, dst = downstream_link(limit)
        link.feed(b"a" * 90)
        link.update_toxic(toxic("limit_data", bytes=100))  # interrupt and restart
        link.feed(b"b" * 20)
        assert dst.data == b"a" * 90 + b"b" * 10

    run(main())


def test_slicer_zero_variation_halves_to_single_bytes():
    async def main() -> None:
        link, dst = downstream_link(toxic("slicer", average_size=1))
        link.feed(bytes(range(24)))
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(dst.writes) == 24
        assert dst.data == bytes(range(24))

    run(main())


def test_slicer_piece_count_within_bounds():
    data = bytes(i % 251 for i in range(480_000))
    pieces = 0
    for start in range(0, len(data), 32 * 1024):
        bounds = slice_bounds(len(data[start : start + 32 * 1024]), 1024, 512)
        pieces += len(bounds) - 1
        assert all(b - a > 0 for a, b in zip(bounds, bounds[1:], strict=False))
    assert 240 <= pieces <= 720

    async def main() -> None:
        link, dst = downstream_link(
            toxic("slicer", average_size=1024, size_variation=512, delay=10)
        )
        link.feed(data)
        deadline = monotonic() + 10
        while len(dst.data) < len(data) and monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert dst.data == data
        assert 240 <= len(dst.writes) <= 720

    run(main())


def test_no_data_dropped_or_reordered_while_toxics_come_and_go():
    async def main() -> None:
        link, dst = downstream_link()
        expected = bytearray()
        for i in range(3000):
            chunk = i.to_bytes(4, "big") * 8
            expected += chunk
            link.feed(chunk)
            step = i % 50
            if step == 10:
                link.add_toxic(toxic("latency", "slow", latency=1000))
            elif step == 20:
                link.add_toxic(toxic("slicer", "cut", average_size=7, size_variation=3))
            elif step == 25:
                link.add_toxic(toxic("noop", "noop"))
            elif step == 30:
                link.update_toxic(toxic("latency", "slow", latency=2000))
            elif step == 35:
                link.remove_toxic("slow")
            elif step == 40:
                link.remove_toxic("noop")
            elif step == 45:
                link.remove_toxic("cut")
            if i % 7 == 0:
                await asyncio.sleep(0)
        deadline = monotonic() + 5
        while len(dst.data) < len(expected) and monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert dst.data == bytes(expected)
        assert link.queued == 0

    run(main())


def test_remove_releases_latency_chunk_immediately():
    async def main() -> None:
        link, dst = downstream_link(toxic("latency", latency=60_000))
        link.feed(b"held")
        await asyncio.sleep(0.01)
        assert dst.data == b""
        link.remove_toxic("latency")
        assert dst.data == b"held"

    run(main())


def test_toxicity_zero_passes_then_update_applies_timeout():
    async def main() -> None:
        link, dst = downstream_link(toxic("timeout", toxicity=0.0))
        link.feed(b"passes")
        await asyncio.sleep(0.01)
        assert dst.data == b"passes"
        started = monotonic()
        link.update_toxic(toxic("timeout", toxicity=1.0, timeout=100))
        link.feed(b"swallowed")
        while dst.closed_at is None and monotonic() - started < 5:
            await asyncio.sleep(0.005)
        assert dst.data == b"passes"
        assert dst.closed_at is not None and dst.closed_at - started >= 0.09

    run(main())


def test_removing_timeout_toxic_closes_the_link():
    async def main() -> None:
        link, dst = downstream_link(toxic("timeout"))
        link.feed(b"swallowed")
        await asyncio.sleep(0.01)
        assert dst.closed_at is None
        link.remove_toxic("timeout", close=True)
        assert dst.closed_at is not None and dst.data == b""

    run(main())


def test_stacked_latencies_add_up():
    async def main() -> None:
        link, dst = downstream_link(
            toxic("latency", "a", latency=100), toxic("latency", "b", latency=100)
        )
        started = monotonic()
        link.feed(b"x")
        while not dst.writes and monotonic() - started < 5:
            await asyncio.sleep(0.002)
        assert monotonic() - started >= 0.2

    run(main())


def test_bandwidth_zero_stalls_until_removed():
    async def main() -> None:
        link, dst = downstream_link(toxic("bandwidth", rate=0))
        link.feed(b"stalled")
        await asyncio.sleep(0.3)
        assert dst.data == b""
        link.remove_toxic("bandwidth")
        assert dst.data == b"stalled"

    run(main())
