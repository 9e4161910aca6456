"""The Toxiproxy HTTP API as an ASGI app, byte-compatible with Toxiproxy 2.12.

Routing, status codes, error bodies and headers follow docs/toxiproxy-compat.md section 1.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chaos.proxy import decoding
from chaos.proxy.collection import PopulateError, ProxyCollection, decode_proxy_config
from chaos.proxy.errors import ToxiproxyError
from chaos.proxy.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from chaos.proxy.metrics import ByteCounters
from chaos.proxy.toxics import dumps

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024 * 1024
_SEG = "([^/]+)"
# (pattern, {method: handler name}); order as Toxiproxy registers its routes.
_ROUTES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"/reset"), {"POST": "reset"}),
    (re.compile(r"/proxies"), {"GET": "proxy_index", "POST": "proxy_create"}),
    (re.compile(r"/populate"), {"POST": "populate"}),
    (
        re.compile(rf"/proxies/{_SEG}"),
        {
            "GET": "proxy_show",
            "POST": "proxy_update",
            "PATCH": "proxy_update",
            "DELETE": "proxy_delete",
        },
    ),
    (re.compile(rf"/proxies/{_SEG}/toxics"), {"GET": "toxic_index", "POST": "toxic_create"}),
    (
        re.compile(rf"/proxies/{_SEG}/toxics/{_SEG}"),
        {
            "GET": "toxic_show",
            "POST": "toxic_update",
            "PATCH": "toxic_update",
            "DELETE": "toxic_delete",
        },
    ),
    (re.compile(r"/version"), {"GET": "version"}),
]
_ANY_METHOD = "*"
_B32HEX = "0123456789abcdefghijklmnopqrstuv"


def request_id() -> str:
    """A 20-character id in the shape of Toxiproxy's xid (time + random, base32hex)."""
    raw = int(time.time()).to_bytes(4, "big") + os.urandom(8)
    number = int.from_bytes(raw, "big")
    return "".join(_B32HEX[(number >> (5 * i)) & 31] for i in range(19, -1, -1))


class Reply:
    __slots__ = ("status", "body", "content_type", "nosniff")

    def __init__(
        self, status: int, body: bytes = b"", content_type: str | None = None, nosniff: bool = False
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.nosniff = nosniff


def json_reply(status: int, value: Any) -> Reply:
    return Reply(status, dumps(value), "application/json")


def error_reply(error: ToxiproxyError, proxies: list[Any] | None | bool = False) -> Reply:
    """``{"error","status"}`` plus newline; populate errors also list ``proxies``."""
    body: dict[str, Any] = {"error": error.message}
    if proxies is not False:
        body["proxies"] = proxies  # populate's body is a Go map: keys sorted
    body["status"] = error.status
    return Reply(error.status, dumps(body) + b"\n", "text/plain; charset=utf-8", nosniff=True)


class ToxiproxyAPI:
    """ASGI app serving one ProxyCollection."""

    def __init__(
        self, proxies: ProxyCollection, counters: ByteCounters, version: str = "git"
    ) -> None:
        self.proxies = proxies
        self.counters = counters
        self.version_text = version

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        route = self._match(path)
        headers: list[tuple[bytes, bytes]] = []
        if route is None:
            reply = Reply(404, b"404 page not found\n", "text/plain; charset=utf-8", True)
        else:
            methods, params = route
            handler_name = methods.get(method) or methods.get(_ANY_METHOD)
            if handler_name is None:
                reply = Reply(405)
            else:
                headers.append((b"x-toxiproxy-request-id", request_id().encode()))
                reply = await self._handle(scope, receive, handler_name, params)
        await _send(send, reply, headers)

    @staticmethod
    def _match(path: str) -> tuple[dict[str, str], tuple[str, ...]] | None:
        if path == "/metrics":
            return {_ANY_METHOD: "metrics"}, ()
        for pattern, methods in _ROUTES:
            match = pattern.fullmatch(path)
            if match:
                return methods, match.groups()
        return None

    async def _handle(
        self, scope: dict[str, Any], receive: Receive, handler_name: str, params: tuple[str, ...]
    ) -> Reply:
        for name, value in scope.get("headers", []):
            if name == b"user-agent" and value.startswith(b"Mozilla/"):
                return Reply(403, b"User agent not allowed\n", "text/plain; charset=utf-8", True)
        body = await _read_body(receive)
        handler = getattr(self, handler_name)
        try:
            return await handler(body, *params)
        except PopulateError as exc:
            return error_reply(exc, [p.to_json() for p in exc.created] or None)
        except ToxiproxyError as exc:
            return error_reply(exc, None if handler_name == "populate" else False)
        except OSError as exc:
            return error_reply(ToxiproxyError(500, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the API answers every request
            log.exception("%s failed", handler_name)
            return error_reply(ToxiproxyError(500, f"internal error: {exc}"))

    # -- handlers (one per route) --------------------------------------------------------

    async def version(self, body: bytes) -> Reply:
        text = f'{{"version": "{self.version_text}"}}\n'.encode()
        return Reply(200, text, "application/json;charset=utf-8")

    async def metrics(self, body: bytes) -> Reply:
        return Reply(200, self.counters.render().encode(), METRICS_CONTENT_TYPE)

    async def reset(self, body: bytes) -> Reply:
        await self.proxies.reset()
        return Reply(204)

    async def proxy_index(self, body: bytes) -> Reply:
        return json_reply(200, {p.name: p.to_json() for p in self.proxies.sorted()})

    async def proxy_create(self, body: bytes) -> Reply:
        config = decode_proxy_config(decoding.parse_body(body))
        proxy = await self.proxies.create(config)
        return json_reply(201, proxy.to_json())

    async def populate(self, body: bytes) -> Reply:
        raw = decoding.parse_body(body)
        if not isinstance(raw, list):
            raise decoding.bad_body(
                f"json: cannot unmarshal {decoding.json_kind(raw)} into Go value of type "
                "[]proxy.Proxy"
            )
        configs = [decode_proxy_config(item, f" at proxy {i}") for i, item in enumerate(raw, 1)]
        proxies = await self.proxies.populate(configs)
        return json_reply(201, {"proxies": [p.to_json() for p in proxies] or None})

    async def proxy_show(self, body: bytes, name: str) -> Reply:
        return json_reply(200, self.proxies.get(name).to_json())

    async def proxy_update(self, body: bytes, name: str) -> Reply:
        proxy = self.proxies.get(name)
        proxy = await self.proxies.update(proxy, decoding.parse_body(body))
        return json_reply(200, proxy.to_json())

    async def proxy_delete(self, body: bytes, name: str) -> Reply:
        self.proxies.delete(self.proxies.get(name))
        return Reply(204)

    async def toxic_index(self, body: bytes, name: str) -> Reply:
        return json_reply(200, [t.to_json() for t in self.proxies.get(name).toxics()])

    async def toxic_create(self, body: bytes, name: str) -> Reply:
        proxy = self.proxies.get(name)
        toxic = self.proxies.add_toxic(proxy, decoding.parse_body(body))
        return json_reply(200, toxic.to_json())

    async def toxic_show(self, body: bytes, name: str, toxic: str) -> Reply:
        return json_reply(200, self.proxies.get(name).toxic(toxic).to_json())

    async def toxic_update(self, body: bytes, name: str, toxic: str) -> Reply:
        proxy = self.proxies.get(name)
        proxy.toxic(toxic)
        updated = self.proxies.update_toxic(proxy, toxic, decoding.parse_body(body))
        return json_reply(200, updated.to_json())

    async def toxic_delete(self, body: bytes, name: str, toxic: str) -> Reply:
        self.proxies.get(name).remove_toxic(toxic)
        return Reply(204)


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _send(send: Send, reply: Reply, headers: list[tuple[bytes, bytes]]) -> None:
    if reply.content_type is not None:
        headers.append((b"content-type", reply.content_type.encode()))
    if reply.nosniff:
        headers.append((b"x-content-type-options", b"nosniff"))
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
