"""An incident's facts, as an on-call engineer states them: what broke, how badly, for how
long, under what load, and which SLO it violated."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from chaos.incident.errors import IncidentError

FaultKind = Literal["latency", "bandwidth", "partition", "reset", "kill", "pause"]
FAULT_KINDS: tuple[str, ...] = ("latency", "bandwidth", "partition", "reset", "kill", "pause")
SIZE_UNITS = {"latency": "ms", "bandwidth": "KB/s", "kill": "replicas", "pause": "replicas"}
PROCESS_FAULTS = {"kill", "pause"}

SloMetric = Literal["error_rate", "p50", "p90", "p95", "p99"]
_SLO = re.compile(
    r"^\s*(?P<metric>error[_ ]?rate|errors|p50|p90|p95|p99)\s*(?:<=|<)\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|%)?\s*$",
    re.IGNORECASE,
)
_EDGE = re.compile(r"^[A-Za-z0-9_.*-]+->[A-Za-z0-9_.*-]+$")


class Slo(BaseModel):
    """`error_rate <= limit` (a fraction) or `pNN <= limit` (milliseconds)."""

    metric: SloMetric
    limit: float = Field(gt=0)
    endpoint: str | None = None

    def __str__(self) -> str:
        where = f" of {self.endpoint}" if self.endpoint else ""
        if self.metric == "error_rate":
            return f"error rate{where} <= {self.limit:.2%}"
        return f"{self.metric}{where} <= {self.limit:g} ms"


def parse_slo(text: str, endpoint: str | None = None) -> Slo:
    """'p95 <= 500ms', 'p99<1s', 'error_rate <= 1%' -> Slo; raises `IncidentError`."""
    match = _SLO.match(text)
    if match is None:
        raise IncidentError(
            f"SLO {text!r}: expected 'p95 <= 500ms', 'p99 <= 1s' or 'error_rate <= 1%'"
        )
    metric = match["metric"].lower().replace(" ", "_")
    value, unit = float(match["value"]), (match["unit"] or "").lower()
    if metric in ("errors", "errorrate", "error_rate"):
        if unit in ("ms", "s"):
            raise IncidentError(f"SLO {text!r}: an error rate is a % or a fraction, not a time")
        limit = value / 100 if unit == "%" else value
        if not 0 < limit < 1:
            raise IncidentError(f"SLO {text!r}: an error rate limit lies between 0 and 100%")
        return Slo(metric="error_rate", limit=limit, endpoint=endpoint)
    if unit == "%":
        raise IncidentError(f"SLO {text!r}: a latency limit is a time (ms or s), not a %")
    limit = value * 1000 if unit == "s" else value
    if limit <= 0:
        raise IncidentError(f"SLO {text!r}: the latency limit must be more than 0")
    return Slo(metric=metric, limit=limit, endpoint=endpoint)  # type: ignore[arg-type]


class IncidentFacts(BaseModel):
    incident_id: str = Field(min_length=1, description="e.g. INC-2041")
    summary: str = Field(min_length=1, description="one line: what users saw")
    service: str | None = None
    edge: str | None = None
    fault: FaultKind
    size: float | None = Field(None, gt=0, description="ms, KB/s or replicas; see SIZE_UNITS")
    duration_s: float = Field(gt=0, le=3600)
    users: int = Field(gt=0, le=10_000)
    spawn_rate: float = Field(10.0, gt=0)
    slo: Slo

    @field_validator("edge")
    @classmethod
    def _edge_shape(cls, edge: str | None) -> str | None:
        if edge is not None and not _EDGE.match(edge):
            raise ValueError(f"{edge!r} is not an edge like 'orders->payments'")
        return edge

    @model_validator(mode="after")
    def _consistent(self) -> IncidentFacts:
        if (self.service is None) == (self.edge is None):
            raise ValueError("give exactly one of a service or an edge")
        if self.fault in PROCESS_FAULTS and self.service is None:
            raise ValueError(f"a {self.fault} fault acts on a service's replicas, not an edge")
        if self.fault in SIZE_UNITS and self.size is None:
            raise ValueError(f"a {self.fault} fault needs a size in {SIZE_UNITS[self.fault]}")
        if self.fault in PROCESS_FAULTS and self.size is not None and self.size != int(self.size):
            raise ValueError(f"a {self.fault} fault's size is a whole number of replicas")
        return self

    @property
    def slug(self) -> str:
        return "incident-" + re.sub(r"[^a-z0-9]+", "-", self.incident_id.lower()).strip("-")

    @property
    def target(self) -> str:
        return self.edge if self.edge is not None else str(self.service)

    def fault_description(self) -> str:
        size = "" if self.size is None else f"{self.size:g} {SIZE_UNITS[self.fault]} "
        names = {
            "latency": "latency",
            "bandwidth": "bandwidth limit",
            "partition": "partition",
            "reset": "connection resets",
            "kill": "replica kill",
            "pause": "replica hang (paused)",
        }
        where = f"edge {self.edge}" if self.edge else f"service {self.service}"
        return f"{size}{names[self.fault]} on {where} for {self.duration_s:g} s"
