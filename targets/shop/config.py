"""What the launcher hands a replica: its service, where its data lives, and for each
callee the URL of the edge's fault-proxy listener with the edge's resilience policy."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from chaos.targets.shop.topology import EdgePolicy, RateLimit


class EdgeTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str  # "orders->payments"
    url: str  # "http://127.0.0.1:40001": the edge's proxy listener
    policy: EdgePolicy


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str
    data_dir: str
    edges: dict[str, EdgeTarget] = {}  # callee -> edge
    rate_limit: RateLimit | None = None

    def database(self) -> Path:
        return Path(self.data_dir) / f"{self.service}.db"

    @classmethod
    def read(cls, path: Path) -> ServiceConfig:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
