"""Fixtures for HTTP toxics: the embedded proxy, a real uvicorn upstream, a proxy to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient

from .upstream import serving


@pytest.fixture(scope="module")
def proxy_server() -> Iterator[EmbeddedProxyServer]:
    server = EmbeddedProxyServer(port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving() as address:
        yield address


@dataclass
class HttpProxy:
    client: ToxiproxyClient
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, toxic_type: str, name: str, stream: str = "downstream", **kwargs) -> None:
        toxicity = kwargs.pop("toxicity", 1.0)
        self.client.add_toxic(
            self.name, toxic_type, name=name, stream=stream, toxicity=toxicity, attributes=kwargs
        )

    def stats(self, toxic: str) -> dict[str, int]:
        stats = self.client.get_toxic(self.name, toxic).stats
        assert stats is not None
        return stats


@pytest.fixture
def http_proxy(proxy_server: EmbeddedProxyServer, upstream: str) -> Iterator[HttpProxy]:
    """A proxy in front of the uvicorn upstream, deleted (with its connections) afterwards."""
    client = ToxiproxyClient(proxy_server.url, timeout=5.0)
    try:
        info = client.create_proxy("web", upstream=upstream, listen="127.0.0.1:0")
        try:
            yield HttpProxy(client, "web", info.listen_port)
        finally:
            client.delete_proxy("web")
    finally:
        client.close()
