"""The toxics a network fault adds, the same on the local mesh and on Kubernetes sidecars.

A fault adds one toxic per stream, named `gameday-<label>-<stream>`, so that doing the same
fault again replaces its toxics instead of stacking them, and an undo can tell our toxics
(the `gameday-` prefix) from anyone else's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.faults.errors import InvalidFaultArgument
from chaos.proxy import ToxicInfo, ToxiproxyClient

TOXIC_PREFIX = "gameday-"


def check_one_target(
    edge: str | None, service: str | None, proxy: str | Sequence[str] | None
) -> None:
    """A network fault's target is named by exactly one of `edge`, `service` or `proxy`."""
    given = [
        name for name, value in (("edge", edge), ("service", service), ("proxy", proxy)) if value
    ]
    if len(given) != 1:
        raise InvalidFaultArgument(
            "name the target with exactly one of `edge` (e.g. 'orders->payments' or "
            f"'*->payments'), `service` or `proxy`; got {given or 'none'}"
        )


def is_ours(toxic_name: str, toxics: Sequence[str] | None) -> bool:
    """Whether an undo removes this toxic: one of `toxics`, else any `gameday-` toxic."""
    return toxic_name in toxics if toxics else toxic_name.startswith(TOXIC_PREFIX)


def toxics_covered(undo_arguments: Mapping[str, Any], toxics: Sequence[str] | None) -> bool:
    """Whether removing `toxics` (None: all of ours) reverses a ledger entry's toxics."""
    return not toxics or set(undo_arguments.get("toxics") or []) <= set(toxics)


def _streams(stream: str) -> list[str]:
    if stream == "both":
        return ["upstream", "downstream"]
    if stream in ("upstream", "downstream"):
        return [stream]
    raise InvalidFaultArgument(f"stream must be 'downstream', 'upstream' or 'both', not {stream!r}")


@dataclass(frozen=True)
class ToxicSpec:
    """One fault's toxics: a Toxiproxy toxic type with its attributes, on each stream."""

    toxic_type: str
    attributes: Mapping[str, Any]
    streams: list[str]
    toxicity: float
    names: list[str]

    @classmethod
    def build(
        cls,
        label: str,
        toxic_type: str,
        attributes: Mapping[str, Any] | None,
        stream: str,
        toxicity: float,
    ) -> ToxicSpec:
        """Validate `stream` and `toxicity`; the toxics are named after `label`."""
        streams = _streams(stream)
        if not 0.0 <= toxicity <= 1.0:
            raise InvalidFaultArgument(f"toxicity must be between 0 and 1, not {toxicity}")
        names = [f"{TOXIC_PREFIX}{label}-{s}" for s in streams]
        return cls(toxic_type, dict(attributes or {}), streams, toxicity, names)

    def named_streams(self) -> Iterator[tuple[str, str]]:
        """Each toxic's name with its stream."""
        return zip(self.names, self.streams, strict=True)

    def add(
        self,
        client: ToxiproxyClient,
        proxy: str,
        name: str,
        stream: str,
        ttl_ms: int | None = None,
    ) -> ToxicInfo:
        """Add the toxic `name` on `stream` to `proxy`."""
        return client.add_toxic(
            proxy,
            self.toxic_type,
            name=name,
            stream=stream,
            attributes=self.attributes,
            toxicity=self.toxicity,
            ttl_ms=ttl_ms,
        )
