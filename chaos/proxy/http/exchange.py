"""HTTP toxics on one proxied connection: requests and responses framed, toxics applied.

The exchange sits in front of both links of a connection that has an HTTP toxic. Requests
from the client are framed and each one gets a plan from the toxics (answer it here, hold
it, hold or cut its response); responses from the upstream are framed in the order of the
requests forwarded, and the proxy's own answers are slotted in between them, so a client
that pipelines gets every response in the order it asked. Bytes are forwarded exactly as
they came, cut only at message boundaries.

A connection that does not speak HTTP/1.x goes raw (passed through untouched) for good,
and the toxics' ``not_http`` counters say so. A connection that was already open when the
first HTTP toxic arrived is framed from the first request the client starts after a
response reached it (``sync``); until then its bytes pass untouched.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import deque
from collections.abc import Callable
from enum import Enum
from time import monotonic
from typing import TYPE_CHECKING

import h11

from chaos.proxy.http.framing import FramingLost, Piece, RequestFramer, ResponseFramer
from chaos.proxy.http.matching import RequestHead, matches
from chaos.proxy.http.plan import RequestPlan
from chaos.proxy.http.registry import APPLY
from chaos.proxy.http.release import EOF, RESET, TimedRelease

if TYPE_CHECKING:
    from chaos.proxy.link import Link
    from chaos.proxy.toxics import ToxicSpec

# An HTTP/1.x request starts with a method token and a space (uppercase in practice).
_REQUEST_START = re.compile(rb"[A-Z][A-Z_-]{0,19}( |$)")


def request_start(data: bytes) -> bool | None:
    """Whether ``data`` starts like an HTTP request; None if too short to tell."""
    found = _REQUEST_START.match(data)
    if found is None:
        return False
    return True if found.group(1) else None


class Mode(Enum):
    SNIFF = "sniff"  # a new connection: are its first bytes HTTP?
    SYNC = "sync"  # joined a live connection: waiting for a request to start
    FRAMED = "framed"
    RAW = "raw"  # passed through untouched
    DEAD = "dead"  # reset or closed by a toxic; nothing more goes anywhere


class Slot:
    """One request in the order the client sent it, and what happens to its response."""

    __slots__ = (
        "forwarded",
        "due",
        "answer",
        "answer_due",
        "ready",
        "close_after",
        "response_delay_s",
        "response_due",
        "reset",
        "held_head",
        "upgrade",
    )

    def __init__(self) -> None:
        self.forwarded = True
        self.due = 0.0  # when the request's bytes may go upstream
        self.answer: bytes | None = None
        self.answer_due = 0.0
        self.ready = False  # the answer may be sent once the slot is first in line
        self.close_after = False
        self.response_delay_s = 0.0
        self.response_due = 0.0
        self.reset = False
        self.held_head: bytes | None = None
        self.upgrade = False


class HttpExchange:
    """The HTTP toxics of one connection (``toxics`` holds both streams, in order)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        uplink: Link,
        downlink: Link,
        toxics: list[ToxicSpec],
        *,
        fresh: bool,
        reset_client: Callable[[], None],
        on_idle: Callable[[HttpExchange], None],
    ) -> None:
        self.toxics = list(toxics)
        self._on_idle = on_idle
        self.up = TimedRelease(
            loop, uplink.forward, uplink.forward_eof, reset_client, uplink.hold, uplink.unhold
        )
        self.down = TimedRelease(
            loop,
            downlink.forward,
            downlink.forward_eof,
            reset_client,
            downlink.hold,
            downlink.unhold,
        )
        self._requests = RequestFramer()
        self._responses = ResponseFramer()
        self._slots: deque[Slot] = deque()
        self._current: Slot | None = None  # the request whose bytes are arriving
        self._request_mode = Mode.SNIFF if fresh else Mode.SYNC
        self._response_mode = Mode.FRAMED if fresh else Mode.SYNC
        self._sniffed = b""
        self._answered = True  # a response reached the client since its last bytes (SYNC)
        self._framed_any = False

    # -- toxics come and go ----------------------------------------------------------------

    def add(self, toxic: ToxicSpec) -> None:
        self.toxics.append(toxic)

    def replace(self, toxic: ToxicSpec) -> None:
        self.toxics = [toxic if t.name == toxic.name else t for t in self.toxics]

    def remove(self, name: str) -> None:
        self.toxics = [t for t in self.toxics if t.name != name]
        self._check_idle()

    @property
    def idle(self) -> bool:
        """Nothing held or half-framed: the links could go back to plain forwarding."""
        if not (self.up.empty and self.down.empty) or self._slots or self._sniffed:
            return False
        if self._request_mode is Mode.FRAMED and (
            self._current is not None or not self._requests.idle
        ):
            return False
        return self._response_mode is not Mode.FRAMED or self._responses.idle

    def _check_idle(self) -> None:
        if not self.toxics and self._request_mode is not Mode.DEAD and self.idle:
            self._on_idle(self)

    def stop(self) -> None:
        """The connection is gone: drop what is held."""
        self._request_mode = self._response_mode = Mode.DEAD
        self.up.stop()
        self.down.stop()

    # -- client to upstream ----------------------------------------------------------------

    def feed_request_bytes(self, data: bytes) -> None:
        mode = self._request_mode
        if mode is Mode.SNIFF:
            data = self._sniffed + data
            self._sniffed = b""
            start = request_start(data)
            if start is None:
                self._sniffed = data
                return
            if not start:
                self._go_raw(data, b"")
                return
            self._request_mode = mode = Mode.FRAMED
        elif mode is Mode.SYNC:
            if self._answered and request_start(data):
                self._request_mode = self._response_mode = mode = Mode.FRAMED
                self._requests = RequestFramer()
                self._responses = ResponseFramer()
            else:
                self._answered = False
                self.up.push(0.0, data)
                return
        if mode is Mode.FRAMED:
            self._frame_requests(data)
        elif mode is Mode.RAW:
            self.up.push(0.0, data)
        if not self.toxics:
            self._check_idle()

    def feed_request_eof(self) -> None:
        if self._sniffed:
            self.up.push(0.0, self._sniffed)
            self._sniffed = b""
        self.up.push(0.0, EOF)

    def _frame_requests(self, data: bytes) -> None:
        try:
            for piece in self._requests.feed(data):
                self._request_piece(piece)
                if self._request_mode is not Mode.FRAMED:
                    break
        except FramingLost as lost:
            self._go_raw(lost.rest, b"")
            return
        if self._request_mode is Mode.RAW and (rest := self._requests.rest()):
            self.up.push(0.0, rest)

    def _request_piece(self, piece: Piece) -> None:
        if piece.kind == "head":
            assert isinstance(piece.event, h11.Request)
            self._request_head(piece.event, piece.raw)
            return
        slot = self._current
        if slot is None:
            return
        if slot.forwarded and piece.raw:
            self.up.push(slot.due, piece.raw)
        if piece.kind == "end":
            self._current = None
            if not slot.forwarded:
                slot.ready = True
                self._pump()
            elif slot.upgrade:
                self._request_mode = Mode.RAW  # what follows is not HTTP/1.x framing

    def _request_head(self, event: h11.Request, raw: bytes) -> None:
        if event.http_version not in (b"1.0", b"1.1"):
            self._go_raw(raw, self._requests.rest())
            return
        self._framed_any = True
        head = RequestHead.from_event(event)
        plan = self._plan(head)
        now = monotonic()
        slot = Slot()
        if plan.request_delay_s:
            slot.due = now + plan.request_delay_s
        connection = {v.strip().lower() for v in ",".join(head.header("connection")).split(",")}
        slot.upgrade = event.method == b"CONNECT" or "upgrade" in connection
        if plan.answer is not None:
            expects_continue = any(v.lower() == "100-continue" for v in head.header("expect"))
            wants_close = "close" in connection or (
                event.http_version == b"1.0" and "keep-alive" not in connection
            )
            slot.forwarded = False
            slot.close_after = expects_continue or wants_close or slot.upgrade
            slot.answer = plan.answer.render(
                head_only=event.method == b"HEAD", close=slot.close_after
            )
            delay = plan.request_delay_s + plan.response_delay_s
            slot.answer_due = now + delay if delay else 0.0
            # A client waiting for "100 Continue" may never send the body: answer now.
            slot.ready = expects_continue
        else:
            slot.response_delay_s = plan.response_delay_s
            slot.reset = plan.reset
            self._responses.expect(event.method)
            self.up.push(slot.due, raw)
        self._slots.append(slot)
        self._current = slot
        if slot.ready:
            self._pump()

    def _plan(self, head: RequestHead) -> RequestPlan:
        plan = RequestPlan()
        for toxic in self.toxics:
            stats = toxic.stats
            assert stats is not None
            stats.requests += 1
            if not matches(toxic.attributes, head):
                continue
            stats.matched += 1
            if toxic.toxicity < 1 and not random.random() < toxic.toxicity:
                continue
            if APPLY[toxic.type](toxic, plan):
                stats.faulted += 1
                plan.toxics.append(toxic.name)
        return plan

    # -- upstream to client ----------------------------------------------------------------

    def feed_response_bytes(self, data: bytes) -> None:
        mode = self._response_mode
        if mode is Mode.FRAMED:
            if not self._slots:
                # Bytes nobody asked for: a server that speaks first, or not HTTP at all.
                self._unasked_response(self._responses.rest() + data)
            else:
                self._frame_responses(self._responses.feed(data))
        elif mode is not Mode.DEAD:
            self._answered = True
            self.down.push(0.0, data)
        if not self.toxics:
            self._check_idle()

    def feed_response_eof(self) -> None:
        if self._response_mode is Mode.FRAMED and self._slots:
            self._frame_responses(self._responses.feed_eof())
        self.down.push(0.0, EOF)

    def _frame_responses(self, pieces: object) -> None:
        try:
            for piece in pieces:  # type: ignore[attr-defined]
                self._response_piece(piece)
                if self._response_mode is not Mode.FRAMED:
                    break
        except FramingLost as lost:
            self._responses_raw(lost.rest)
            return
        if self._response_mode is Mode.RAW and (rest := self._responses.rest()):
            self.down.push(0.0, rest)

    def _response_piece(self, piece: Piece) -> None:
        if piece.kind == "closed":
            return
        slot = self._slots[0] if self._slots else None
        if slot is None or not slot.forwarded:
            raise FramingLost(
                "a response nobody is waiting for", piece.raw + self._responses.rest()
            )
        if piece.kind == "head":
            if slot.upgrade:
                self._slots.popleft()
                self._response_mode = Mode.RAW
                self.down.push(0.0, piece.raw)
                return
            if slot.response_delay_s:
                slot.response_due = monotonic() + slot.response_delay_s
            if slot.reset:
                slot.held_head = piece.raw
                return
        elif slot.reset and piece.kind in ("body", "end"):
            # Cut before the body, or before the head of a response without one.
            if piece.kind == "body" and slot.held_head is not None:
                self.down.push(slot.response_due, slot.held_head)
            self.down.push(slot.response_due, RESET)
            self._request_mode = self._response_mode = Mode.DEAD
            self._slots.clear()
            return
        if piece.raw:
            self.down.push(slot.response_due, piece.raw)
        if piece.kind == "end":
            self._slots.popleft()
            self._pump()

    def _pump(self) -> None:
        """Send the proxy's own answers that have come first in line."""
        slots = self._slots
        while slots and not slots[0].forwarded and slots[0].ready:
            slot = slots.popleft()
            assert slot.answer is not None
            self.down.push(slot.answer_due, slot.answer)
            if slot.close_after:
                self.down.push(0.0, EOF)
                self._request_mode = self._response_mode = Mode.DEAD
                slots.clear()
                return

    # -- giving up on framing ----------------------------------------------------------------

    def _go_raw(self, request_bytes: bytes, rest: bytes) -> None:
        """Stop framing requests; pass ``request_bytes`` + ``rest`` and all that follows."""
        if not self._framed_any:
            for toxic in self.toxics:
                assert toxic.stats is not None
                toxic.stats.not_http += 1
        self._request_mode = Mode.RAW
        self._current = None
        if request_bytes or rest:
            self.up.push(0.0, request_bytes + rest)
        if not self._framed_any:
            self._responses_raw(b"")

    def _unasked_response(self, data: bytes) -> None:
        if not self._framed_any:
            # The upstream spoke first: not HTTP/1.x (SMTP, MySQL, ...). Pass all through.
            self._go_raw(self._sniffed, b"")
            self._sniffed = b""
        self._responses_raw(data)

    def _responses_raw(self, rest: bytes) -> None:
        """Stop framing responses; answers still waiting can no longer be placed."""
        self._response_mode = Mode.RAW
        pending_answers = any(not slot.forwarded for slot in self._slots)
        self._slots.clear()
        if rest:
            self.down.push(0.0, rest)
        if pending_answers:
            self.down.push(0.0, EOF)
            self._request_mode = self._response_mode = Mode.DEAD
