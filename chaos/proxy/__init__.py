"""The fault proxy: an embedded Toxiproxy-compatible server and a typed client for it.

from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient

with EmbeddedProxyServer(port=0) as server:
    client = ToxiproxyClient(server.url)
    proxy = client.create_proxy("db", upstream="127.0.0.1:5432")
    client.add_toxic("db", "latency", attributes={"latency": 100}, ttl_ms=60_000)
"""

from chaos.proxy.client import ToxiproxyClient
from chaos.proxy.errors import (
    AlreadyExists,
    InvalidRequest,
    NotFound,
    ProxyUnreachable,
    ToxiproxyError,
)
from chaos.proxy.models import ProxyInfo, ToxicInfo
from chaos.proxy.server import EmbeddedProxyServer, serve_forever

__all__ = [
    "AlreadyExists",
    "EmbeddedProxyServer",
    "InvalidRequest",
    "NotFound",
    "ProxyInfo",
    "ProxyUnreachable",
    "ToxicInfo",
    "ToxiproxyClient",
    "ToxiproxyError",
    "serve_forever",
]
