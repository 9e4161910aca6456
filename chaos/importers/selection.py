"""Which pods a source fault picks, and how that reads on our targets: a label selector and
namespace on Kubernetes, a service of the shop on the local mesh."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from chaos.importers.model import ImportTarget
from chaos.importers.source import Node

# Label keys whose value names the application, most specific first.
SERVICE_LABELS = ("app.kubernetes.io/name", "app", "name", "service")


@dataclass(frozen=True)
class Selection:
    namespace: str
    labels: dict[str, str]
    count: int | None = None  # None and percent None: one pod
    percent: float | None = None
    every: bool = False

    @property
    def label_selector(self) -> str:
        return ",".join(f"{key}={value}" for key, value in self.labels.items())

    @property
    def service(self) -> str | None:
        for key in SERVICE_LABELS:
            if key in self.labels:
                return self.labels[key]
        return None

    def amount(self) -> dict[str, float | int]:
        """`count`/`percent` arguments of our replica and pod faults."""
        if self.every:
            return {"percent": 100}
        if self.percent is not None:
            return {"percent": self.percent}
        return {"count": self.count or 1}


@cache
def shop_services() -> tuple[str, ...]:
    from chaos.targets.shop.topology import load_topology

    return tuple(load_topology(None).services)


def mesh_service(selection: Selection, target: ImportTarget) -> str | None:
    """The service a fault acts on, or None when the selection names none we have (on the
    local mesh: a service of the shop)."""
    service = selection.service
    if target == "k8s" or service is None:
        return service
    return service if service in shop_services() else None


def no_service_reason(selection: Selection, target: ImportTarget) -> str:
    if target == "k8s":
        return f"the selector {selection.label_selector!r} names no application label " + (
            f"({', '.join(SERVICE_LABELS)})"
        )
    return (
        f"the selector {selection.label_selector!r} names no service of the local shop "
        f"({', '.join(shop_services())})"
    )


def parse_label_selector(text: str, node: Node, key: str) -> dict[str, str]:
    """`app=nginx,tier=web` (equality only) as a mapping."""
    labels: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in str(text).split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or value.startswith("=") or name.endswith("!"):
            raise node.report.error(
                node.where(key), f"{text!r}: only equality selectors like app=nginx are imported"
            )
        labels[name.strip()] = value.strip()
    if not labels:
        raise node.report.error(node.where(key), "an empty selector would select every pod")
    return labels
