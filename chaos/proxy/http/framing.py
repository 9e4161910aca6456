"""HTTP/1.x framing of a proxied byte stream, with h11 doing the parsing.

A framer cuts the bytes of one direction into pieces at the exact boundaries h11 finds
(a head, body data, the end of a message), so the proxy forwards the original bytes and
never re-serialises a message. The position of each boundary comes from h11's public
``trailing_data`` (what it has not consumed yet).

h11 plays the endpoint: to parse requests it acts as a server, to parse responses as a
client. Each message gets a fresh h11 state machine, fed the bytes left over from the one
before (cheaper than moving one machine through a whole request/response cycle, and a
proxy has no cycle of its own to keep). For each request the proxy forwards, the response
framer "sends" a mirror of it (same method, no body; nothing goes anywhere) so that h11
knows when a response has no body (HEAD) and where it ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import h11

# Largest request or response head accepted; a bigger one ends framing (pass-through).
MAX_HEAD = 64 * 1024

PieceKind = Literal["head", "info", "body", "end", "closed"]


@dataclass(slots=True)
class Piece:
    """Original bytes of one part of a message, and the h11 event they carried."""

    kind: PieceKind
    raw: bytes
    event: object


class FramingLost(Exception):
    """The stream stopped being HTTP/1.x that h11 can frame; ``rest`` is unframed."""

    def __init__(self, reason: str, rest: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rest = rest


# The events that end every HTTP/1.x message the same way, whichever direction it goes.
_MESSAGE_TAIL: tuple[tuple[type[h11.Event], PieceKind], ...] = (
    (h11.Data, "body"),
    (h11.EndOfMessage, "end"),
    (h11.ConnectionClosed, "closed"),
)


class _Framer:
    # The h11 events this direction carries and the piece each one is; others end framing.
    _kinds: tuple[tuple[type[h11.Event], PieceKind], ...] = ()

    def __init__(self, role: type[h11.SERVER] | type[h11.CLIENT]) -> None:
        self._role = role
        self._h11 = self._machine()
        self._raw = bytearray()  # bytes given to h11 and not yet cut into pieces

    def _machine(self) -> h11.Connection:
        return h11.Connection(self._role, max_incomplete_event_size=MAX_HEAD)

    @property
    def idle(self) -> bool:
        """Between messages with nothing buffered: framing could stop here losslessly."""
        return not self._raw and self._h11.their_state in (h11.IDLE, h11.DONE)

    def feed(self, data: bytes) -> Iterator[Piece]:
        self._raw += data
        self._h11.receive_data(data)
        return self._pieces()

    def feed_eof(self) -> Iterator[Piece]:
        self._h11.receive_data(b"")
        return self._pieces()

    def rest(self) -> bytes:
        """Stop framing: the bytes not yet cut into pieces."""
        rest, self._raw = bytes(self._raw), bytearray()
        return rest

    def _cut(self) -> bytes:
        consumed = len(self._raw) - len(self._h11.trailing_data[0])
        piece = bytes(self._raw[:consumed])
        del self._raw[:consumed]
        return piece

    def _lost(self, reason: str) -> FramingLost:
        return FramingLost(reason, self.rest())

    def _next_message(self) -> None:
        """A message ended: a fresh machine for the next one, fed what is left over."""
        closed = self._h11.trailing_data[1]
        self._h11 = self._machine()
        if self._raw:
            self._h11.receive_data(bytes(self._raw))
        if closed:
            self._h11.receive_data(b"")

    def _pieces(self) -> Iterator[Piece]:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise self._lost(str(exc)) from exc
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED:
                # Only a protocol switch (Upgrade, CONNECT) pauses a fresh machine.
                raise self._lost("the connection switched protocols")
            piece = self._piece(event)
            if piece is None:
                raise self._lost(f"unexpected {type(event).__name__}")
            if piece.kind == "end":
                self._next_message()
            yield piece
            if piece.kind == "closed":
                return  # h11 would go on returning ConnectionClosed

    def _piece(self, event: object) -> Piece | None:
        for event_type, kind in self._kinds:
            if isinstance(event, event_type):
                return Piece(kind, self._cut(), event)
        return None


class RequestFramer(_Framer):
    """Requests a client sends, pipelined or one after another."""

    _kinds = ((h11.Request, "head"), *_MESSAGE_TAIL)

    def __init__(self) -> None:
        super().__init__(h11.SERVER)


_END = h11.EndOfMessage()


class ResponseFramer(_Framer):
    """Responses an upstream sends, in the order of the requests forwarded to it."""

    _kinds = ((h11.InformationalResponse, "info"), (h11.Response, "head"), *_MESSAGE_TAIL)

    def __init__(self) -> None:
        super().__init__(h11.CLIENT)
        self._methods: deque[bytes] = deque()
        self._mirrors: dict[bytes, h11.Request] = {}

    def expect(self, method: bytes) -> None:
        """A request with ``method`` was forwarded: its response comes after the others."""
        self._methods.append(method)
        self._send_mirror()

    def _send_mirror(self) -> None:
        conn = self._h11
        if self._methods and conn.our_state is h11.IDLE:
            method = self._methods.popleft()
            mirror = self._mirrors.get(method)
            if mirror is None:
                mirror = h11.Request(method=method, target="/", headers=[("host", "upstream")])
                self._mirrors[method] = mirror
            conn.send(mirror)
            conn.send(_END)

    def _next_message(self) -> None:
        super()._next_message()
        self._send_mirror()
