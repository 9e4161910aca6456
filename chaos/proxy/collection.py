"""All proxies of a server and the operations of the API on them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaos.proxy import decoding
from chaos.proxy.errors import AlreadyExists, InvalidRequest, NotFound, ToxiproxyError
from chaos.proxy.link import Link
from chaos.proxy.proxy import Proxy
from chaos.proxy.toxics import ToxicSpec, decode_new_toxic, decode_toxic_update

# Beyond Toxiproxy (which would listen on every interface): a proxy created without a
# listen address gets a free loopback port.
DEFAULT_LISTEN = "127.0.0.1:0"


@dataclass
class ProxyConfig:
    """A proxy as a create/populate body describes it."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[Any] | None = None


def decode_proxy_config(raw: Any, where: str = "") -> ProxyConfig:
    """A create/populate item; missing name/upstream are 400s naming ``where``."""
    top = decoding.fields(raw, ("name", "listen", "upstream", "enabled", "toxics"), "Proxy")
    name = decoding.want_str(top.get("name", ""), "name", "Proxy")
    listen = decoding.want_str(top.get("listen", ""), "listen", "Proxy") or DEFAULT_LISTEN
    upstream = decoding.want_str(top.get("upstream", ""), "upstream", "Proxy")
    enabled = decoding.want_bool(top.get("enabled", True), "enabled", "Proxy")
    toxics = top.get("toxics")
    if toxics is not None and not isinstance(toxics, list):
        raise decoding.bad_body("json: cannot unmarshal into Go struct field Proxy.toxics")
    if not name:
        raise InvalidRequest(f"missing required field: name{where}")
    if not upstream:
        raise InvalidRequest(f"missing required field: upstream{where}")
    return ProxyConfig(name, listen, upstream, enabled, toxics)


class PopulateError(ToxiproxyError):
    """A populate that stopped midway: the error plus the proxies created so far."""

    def __init__(self, error: ToxiproxyError, created: list[Proxy]) -> None:
        super().__init__(error.status, error.message)
        self.created = created


class ProxyCollection:
    """Proxies by name. Every method runs on the server's event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_link_end: Callable[[Proxy, Link], None] | None = None,
    ) -> None:
        self.loop = loop
        self.proxies: dict[str, Proxy] = {}
        self._on_link_end = on_link_end

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise NotFound("proxy not found")
        return proxy

    def sorted(self) -> list[Proxy]:
        return [self.proxies[name] for name in sorted(self.proxies)]

    async def _new(self, config: ProxyConfig) -> Proxy:
        proxy = Proxy(self.loop, config.name, config.listen, config.upstream, self._on_link_end)
        if config.enabled:
            await proxy.start()
        return proxy

    async def create(self, config: ProxyConfig) -> Proxy:
        if config.name in self.proxies:
            raise AlreadyExists("proxy already exists")
        proxy = await self._new(config)
        if config.name in self.proxies:  # created concurrently while binding
            proxy.discard()
            raise AlreadyExists("proxy already exists")
        self.proxies[config.name] = proxy
        return proxy

    async def populate(self, configs: list[ProxyConfig], with_toxics: bool = False) -> list[Proxy]:
        """Keep unchanged proxies, replace changed ones, create new ones, in order.

        ``with_toxics`` (config files only) also adds each item's toxics to proxies that
        were created or replaced.
        """
        done: list[Proxy] = []
        for config in configs:
            try:
                existing = self.proxies.get(config.name)
                if (
                    existing is not None
                    and not await existing.differs(config.listen, config.upstream)
                    and self.proxies.get(config.name) is existing
                ):
                    done.append(existing)
                    continue
                self._drop(config.name)
                proxy = await self._new(config)
                self._drop(config.name)  # in case a concurrent call created it meanwhile
                self.proxies[config.name] = proxy
                if with_toxics:
                    for raw in config.toxics or []:
                        self.add_toxic(proxy, raw)
            except ToxiproxyError as exc:
                raise PopulateError(exc, done) from exc
            done.append(proxy)
        return done

    async def update(self, proxy: Proxy, raw: Any) -> Proxy:
        """Partial update; a changed listen/upstream restarts the proxy (dropping links)."""
        top = decoding.fields(raw, ("listen", "upstream", "enabled"), "Proxy")
        listen = decoding.want_str(top.get("listen", proxy.listen), "listen", "Proxy")
        upstream = decoding.want_str(top.get("upstream", proxy.upstream), "upstream", "Proxy")
        enabled = decoding.want_bool(top.get("enabled", proxy.enabled), "enabled", "Proxy")
        differs = await proxy.differs(listen, upstream)
        self._still_there(proxy)
        if differs:
            proxy.stop()
            proxy.listen, proxy.upstream = listen, upstream
        if enabled and not proxy.enabled:
            await proxy.start()
            if self.proxies.get(proxy.name) is not proxy:
                proxy.discard()  # deleted by a concurrent call while binding
                raise NotFound("proxy not found")
        elif not enabled and proxy.enabled:
            proxy.stop()
        return proxy

    def _drop(self, name: str) -> None:
        old = self.proxies.pop(name, None)
        if old is not None:
            old.discard()

    def _still_there(self, proxy: Proxy) -> None:
        if self.proxies.get(proxy.name) is not proxy:
            raise NotFound("proxy not found")

    def delete(self, proxy: Proxy) -> None:
        proxy.discard()
        self.proxies.pop(proxy.name, None)

    async def reset(self) -> None:
        for proxy in list(self.proxies.values()):
            if self.proxies.get(proxy.name) is not proxy:
                continue  # deleted meanwhile
            if not proxy.enabled:
                await proxy.start()
            proxy.remove_all_toxics()

    def add_toxic(self, proxy: Proxy, raw: Any) -> ToxicSpec:
        toxic = decode_new_toxic(raw, {t.name for t in proxy.toxics()})
        proxy.add_toxic(toxic)
        return toxic

    def update_toxic(self, proxy: Proxy, name: str, raw: Any) -> ToxicSpec:
        current = proxy.toxic(name)
        toxic = decode_toxic_update(raw, current)
        rearm = isinstance(raw, dict) and any(k.lower() == "ttl_ms" for k in raw)
        proxy.update_toxic(toxic, rearm)
        return toxic

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.discard()
        self.proxies.clear()
