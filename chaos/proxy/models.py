"""Typed views of the proxy and toxic objects that the Toxiproxy API returns."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ToxicInfo(BaseModel):
    """A toxic as the API reports it; ``ttl_ms`` is set only by servers that support it."""

    model_config = ConfigDict(extra="ignore")

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, Any] = Field(default_factory=dict)
    ttl_ms: int | None = None
    stats: dict[str, int] | None = None  # HTTP toxics of our own server only


class ProxyInfo(BaseModel):
    """A proxy as the API reports it (``listen`` is the bound address once enabled)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    listen: str
    upstream: str
    enabled: bool = True
    toxics: list[ToxicInfo] = Field(default_factory=list)

    @property
    def listen_host(self) -> str:
        """Host part of ``listen`` without IPv6 brackets."""
        host = self.listen.rsplit(":", 1)[0]
        return host[1:-1] if host.startswith("[") and host.endswith("]") else host

    @property
    def listen_port(self) -> int:
        """Port part of ``listen``."""
        return int(self.listen.rsplit(":", 1)[1])
