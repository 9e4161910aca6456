"""The shop's topology: services, replicas, edges and each edge's resilience settings.

Loaded from `topology.yaml` (the bundled one by default), with experiment overrides
deep-merged over it and replica counts applied last. Every error names the file, the line
and the field path, so a typo in a topology reads like a compiler message.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "BUNDLED_TOPOLOGY",
    "SERVICE_DEPENDENCIES",
    "EdgePolicy",
    "Topology",
    "TopologyError",
    "load_topology",
]

BUNDLED_TOPOLOGY = Path(__file__).with_name("topology.yaml")
PUBLIC_EDGE = "client->gateway"

# What each service's code calls; the topology must give every one of these edges (and
# no others), because an edge is where its resilience settings and its fault proxy live.
SERVICE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "gateway": ("catalog", "recommendations", "inventory", "orders"),
    "catalog": (),
    "recommendations": (),
    "inventory": (),
    "payments": (),
    "orders": ("catalog", "inventory", "payments", "notifications"),
    "notifications": (),
}


class TopologyError(ValueError):
    """A topology file or override is invalid; the message names file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetryPolicy(_Strict):
    enabled: bool = True
    attempts: int = Field(3, ge=1, le=10)
    initial_backoff_s: float = Field(0.05, ge=0, le=30)
    max_backoff_s: float = Field(0.5, ge=0, le=60)
    jitter_s: float = Field(0.05, ge=0, le=30)


class BreakerPolicy(_Strict):
    enabled: bool = True
    fail_max: int = Field(5, ge=1, le=1000)
    reset_timeout_s: float = Field(5.0, gt=0, le=600)


class BulkheadPolicy(_Strict):
    enabled: bool = True
    max_concurrent: int = Field(64, ge=1, le=10_000)
    max_wait_s: float = Field(0.5, ge=0, le=60)


class FallbackPolicy(_Strict):
    enabled: bool = False


class EdgePolicy(_Strict):
    """Resilience on one caller->callee edge: each pattern can be switched off."""

    timeout_s: float = Field(2.0, gt=0, le=300)
    retry: RetryPolicy = RetryPolicy()
    circuit_breaker: BreakerPolicy = BreakerPolicy()
    bulkhead: BulkheadPolicy = BulkheadPolicy()
    fallback: FallbackPolicy = FallbackPolicy()


class RateLimit(_Strict):
    """A token bucket per client identity (header X-Client-Id, else the peer address)."""

    enabled: bool = True
    requests_per_s: float = Field(100.0, gt=0, le=1_000_000)
    burst: int = Field(200, ge=1, le=1_000_000)


class ServiceSpec(_Strict):
    replicas: int = Field(2, ge=1, le=16)
    port: int = Field(0, ge=0, le=65535)
    rate_limit: RateLimit | None = None


class Topology(_Strict):
    public_port: int = Field(0, ge=0, le=65535)
    defaults: dict[str, Any] = Field(default_factory=dict)
    services: dict[str, ServiceSpec]
    edges: dict[str, EdgePolicy]
    source: str = Field("<memory>", exclude=True)

    @model_validator(mode="after")
    def _known_services_and_edges(self) -> Topology:
        unknown = sorted(set(self.services) - set(SERVICE_DEPENDENCIES))
        if unknown:
            raise ValueError(
                f"unknown service(s) {unknown}; the shop has {sorted(SERVICE_DEPENDENCIES)}"
            )
        missing_services = sorted(set(SERVICE_DEPENDENCIES) - set(self.services))
        if missing_services:
            raise ValueError(f"missing service(s) {missing_services}")
        required = {
            f"{caller}->{callee}"
            for caller, callees in SERVICE_DEPENDENCIES.items()
            for callee in callees
        }
        missing = sorted(required - set(self.edges))
        extra = sorted(set(self.edges) - required)
        if missing or extra:
            raise ValueError(
                f"edges must be exactly the calls the services make; missing {missing}, "
                f"unexpected {extra}"
            )
        return self

    def edge_names(self) -> list[str]:
        """Every proxied edge, the public entry first."""
        return [PUBLIC_EDGE, *sorted(self.edges)]

    def callees(self, service: str) -> list[str]:
        return list(SERVICE_DEPENDENCIES[service])


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _line_of(node: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node of `path` present in the YAML tree."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if key_node.value == str(part):
                node = value_node
                line = key_node.start_mark.line + 1
                break
        else:
            break
    return line


def _apply_edge_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    edge_defaults = (raw.get("defaults") or {}).get("edge") or {}
    if not isinstance(edge_defaults, Mapping):
        return raw
    edges = raw.get("edges")
    if isinstance(edges, Mapping):
        raw["edges"] = {
            name: _deep_merge(dict(edge_defaults), value or {})
            if isinstance(value, Mapping | None)
            else value
            for name, value in edges.items()
        }
    return raw


def load_topology(
    path: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
    replicas: Mapping[str, int] | None = None,
) -> Topology:
    """The topology at `path` (default: the bundled one) with `overrides` deep-merged over
    it and `replicas` (service -> count) applied. Raises `TopologyError`."""
    source = Path(path) if path is not None else BUNDLED_TOPOLOGY
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyError(f"{source}: cannot read the topology: {exc.strerror}") from exc
    try:
        tree = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else str(source)
        raise TopologyError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TopologyError(f"{source}:1: a topology is a mapping with services and edges")
    if overrides:
        raw = _deep_merge(raw, overrides)
    for service, count in (replicas or {}).items():
        services = raw.setdefault("services", {})
        if service not in services:
            raise TopologyError(
                f"--replicas: no service {service!r} in {source} (services: {sorted(services)})"
            )
        services[service] = {**(services[service] or {}), "replicas": count}
    raw = _apply_edge_defaults(raw)
    try:
        topology = Topology.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(tree, loc)
            problems.append(f"{source}:{line or 1}: {field}: {error['msg']}")
        raise TopologyError("invalid topology:\n" + "\n".join(problems)) from exc
    topology.source = str(source)
    return topology
