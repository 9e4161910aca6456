"""Chaos Mesh: PodChaos, NetworkChaos (delay, partition, bandwidth), HTTPChaos, StressChaos
and the Schedule that wraps any of them, as our faults. Field names follow the Chaos Mesh
docs (selector, mode/value, duration, direction/target)."""

from __future__ import annotations

from collections.abc import Callable

from chaos.importers import faults
from chaos.importers.model import ImportTarget
from chaos.importers.parts import Parts
from chaos.importers.selection import Selection, mesh_service, no_service_reason
from chaos.importers.source import Node

KINDS = ("PodChaos", "NetworkChaos", "HTTPChaos", "StressChaos", "Schedule")
BITS_PER_SECOND = {"bps": 1, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12}


class Chaos:
    """One chaos spec with its selection, for the target we import for."""

    def __init__(
        self, name: str, spec: Node, namespace: str, target: ImportTarget, parts: Parts
    ) -> None:
        self.name, self.spec, self.target, self.parts = name, spec, target, parts
        self.selection = selection(spec, namespace)
        parts.namespace(self.selection.namespace)
        self.duration_s = spec.seconds("duration")

    def service(self) -> str | None:
        service = mesh_service(self.selection, self.target)
        if service is None:
            reason = no_service_reason(self.selection, self.target)
            self.spec.report.left_out(self.spec.where("selector"), self.selection.labels, reason)
        return service

    def add(self, activity: dict) -> None:
        self.parts.method.append(faults.paused(activity, self.duration_s))
        rollback = faults.rollback_for(activity)
        if rollback is not None:
            self.parts.rollbacks.append(rollback)


def selection(spec: Node, namespace: str) -> Selection:
    """`selector` (namespaces, labelSelectors) with `mode`/`value`."""
    selector = spec.child("selector")
    if selector is None:
        raise spec.report.error(spec.where("selector"), "a chaos needs a selector")
    namespaces = [str(n) for n in selector.take("namespaces") or [namespace]]
    if len(namespaces) > 1:
        spec.report.left_out(
            selector.where("namespaces"), namespaces[1:], "one namespace per fault: the first"
        )
    labels = selector.take("labelSelectors") or {}
    if not isinstance(labels, dict) or not labels:
        raise spec.report.error(selector.where("labelSelectors"), "needs at least one label")
    narrowing = sorted(set(selector.data) - {"namespaces", "labelSelectors"})
    if narrowing:
        # Left out, these would widen the fault to every pod the labels match.
        raise spec.report.error(
            selector.where(narrowing[0]),
            "only namespaces and labelSelectors are imported; without this the fault "
            "would reach more pods than the source's",
        )
    mode, value = spec.take("mode", "one"), spec.take("value")
    chosen = Selection(namespaces[0], {str(k): str(v) for k, v in labels.items()})
    try:
        if mode == "all":
            return Selection(chosen.namespace, chosen.labels, every=True)
        if mode == "fixed":
            return Selection(chosen.namespace, chosen.labels, count=int(value))
        if mode in ("fixed-percent", "random-max-percent"):
            if mode == "random-max-percent":
                spec.report.left_out(
                    spec.where("mode"), mode, "approximated: always the maximum percent"
                )
            return Selection(chosen.namespace, chosen.labels, percent=float(value))
    except (TypeError, ValueError):
        raise spec.report.error(spec.where("value"), f"{value!r} is not a number") from None
    if mode != "one":
        raise spec.report.error(spec.where("mode"), f"unknown mode {mode!r}")
    return chosen


def _pod(chaos: Chaos) -> None:
    action = chaos.spec.take("action", "pod-kill")
    grace = int(chaos.spec.number("gracePeriod", 0) or 0)
    chaos.spec.leave("containerNames", "our faults act on whole pods")
    if action == "pod-kill":
        if chaos.target != "k8s" and chaos.service() is None:
            return
        chaos.add(faults.kill(chaos.name, chaos.selection, chaos.target, grace))
    elif action == "pod-failure" and chaos.target != "k8s" and chaos.service():
        arguments = {
            "service": chaos.selection.service,
            **chaos.selection.amount(),
            "ttl_s": faults.ttl_s(chaos.duration_s),
        }
        chaos.add(faults.action(chaos.name, "chaos.faults.process", "pause_replicas", arguments))
    else:
        reason = "pod-failure maps on the local mesh only (paused replicas)"
        chaos.spec.report.left_out(chaos.spec.where("action"), action, reason)


def _edges(chaos: Chaos, service: str) -> list[dict[str, str]]:
    """NetworkChaos `direction` and `target` as our edges (caller->callee)."""
    direction = chaos.spec.take("direction", "to")
    other = chaos.spec.child("target")
    if other is None:
        if direction != "to":
            chaos.spec.report.left_out(chaos.spec.where("direction"), direction, "needs target")
        return [faults.network_target(service, None)]
    peer = mesh_service(selection(other, chaos.selection.namespace), chaos.target)
    other.finish()
    if peer is None:
        chaos.spec.report.left_out(other.path, other.data, "the target names no service")
        return [faults.network_target(service, None)]
    edges = {"to": [f"{service}->{peer}"], "from": [f"{peer}->{service}"]}
    chosen = edges.get(direction, edges["to"] + edges["from"])
    return [faults.network_target(None, edge) for edge in chosen]


def _network(chaos: Chaos) -> None:
    action = chaos.spec.take("action")
    service = chaos.service()
    chaos.spec.leave("externalTargets", "the fault proxy acts on the mesh's edges only")
    chaos.spec.leave("device", "no network devices: faults act on the mesh's edges")
    if action not in ("delay", "partition", "bandwidth"):
        chaos.spec.report.left_out(chaos.spec.where("action"), action, "not imported")
        return
    if service is None:
        return
    make = _network_fault(action, chaos)
    for index, where in enumerate(_edges(chaos, service)):
        chaos.add(make(chaos.name + (f"-{index + 1}" if index else ""), where))


def _network_fault(action: str, chaos: Chaos) -> Callable[[str, dict[str, str]], dict]:
    """How to build the fault on one edge, from the action's settings."""
    duration = chaos.duration_s
    if action == "partition":
        return lambda name, where: faults.partition(name, where, duration)
    settings = chaos.spec.child(action)
    if settings is None:
        raise chaos.spec.report.error(chaos.spec.where(action), f"{action} needs its settings")
    if action == "delay":
        latency_ms = round((settings.seconds("latency", 0) or 0) * 1000)
        jitter_ms = round((settings.seconds("jitter", 0) or 0) * 1000)
        settings.leave("correlation", "latency is drawn independently per connection chunk")
        settings.leave("reorder", "TCP streams through the proxy stay in order")
        settings.finish()
        return lambda name, where: faults.latency(name, where, latency_ms, jitter_ms, duration)
    rate_kbps = _rate_kbps(settings)
    for key in ("limit", "buffer", "peakrate", "minburst"):
        settings.leave(key, "the proxy's bandwidth toxic has a rate only")
    settings.finish()
    return lambda name, where: faults.bandwidth(name, where, rate_kbps, duration)


def _rate_kbps(settings: Node) -> int:
    """`rate: 1mbps` (bits per second) as the bandwidth toxic's KB/s."""
    text = str(settings.take("rate") or "").strip().lower()
    for unit in sorted(BITS_PER_SECOND, key=len, reverse=True):
        number = text.removesuffix(unit)
        if number != text:
            try:
                return max(1, round(float(number) * BITS_PER_SECOND[unit] / 8 / 1000))
            except ValueError:
                break
    raise settings.report.error(settings.where("rate"), f"{text!r} is not a rate like 1mbps")


def _http(chaos: Chaos) -> None:
    if chaos.target == "k8s":
        chaos.spec.drop(chaos.name, faults.HTTP_ON_K8S)
        return
    service = chaos.service()
    stage = chaos.spec.take("target", "Request")
    route = {key: chaos.spec.take(key) for key in ("method", "path")}
    arguments = {key: value for key, value in route.items() if value}
    chaos.spec.leave("port", "every request into the service is matched, whatever its port")
    for key in ("patch", "request_headers", "code"):
        chaos.spec.leave(key, "no HTTP toxic rewrites a request or matches a response code")
    delay_s = chaos.spec.seconds("delay")
    abort = chaos.spec.take("abort")
    replace = chaos.spec.child("replace")
    code = replace.take("code") if replace else None
    if replace is not None:
        replace.finish()
    if service is None:
        return
    where = faults.network_target(service, None)
    if delay_s is not None:
        stream = "upstream" if stage == "Request" else "downstream"
        delay = {**arguments, "latency_ms": round(delay_s * 1000), "stream": stream}
        chaos.add(faults.http_fault(f"{chaos.name}-delay", "delay_requests", where, delay, None))
    if abort:
        chaos.spec.report.left_out(
            chaos.spec.where("abort"), abort, "approximated: reset after the response head"
        )
        chaos.add(
            faults.http_fault(f"{chaos.name}-abort", "reset_responses", where, arguments, None)
        )
    if code is not None:
        chaos.spec.report.left_out(
            f"{chaos.spec.path}.replace.code",
            code,
            "approximated: the proxy answers in place of the service",
        )
        answer = {**arguments, "http_status": int(code)}
        chaos.add(faults.http_fault(f"{chaos.name}-status", "abort_requests", where, answer, None))


def _stress(chaos: Chaos) -> None:
    chaos.spec.leave("stressngStressors", "no stress-ng here: use stressors.cpu")
    chaos.spec.leave("containerNames", "our faults act on whole replicas")
    if chaos.target == "k8s":
        chaos.spec.leave("stressors", faults.RESOURCES_ON_K8S)
        return
    stressors = chaos.spec.child("stressors")
    cpu = stressors.child("cpu") if stressors else None
    if stressors is not None:
        stressors.finish()
    if cpu is None:
        return
    workers = cpu.number("workers", 1) or 1
    load = cpu.number("load", 100) or 100
    cpu.finish()
    service = chaos.service()
    if service is None:
        return
    # The stressors and the service share the CPU fairly.
    cpu_percent = round(100 / (1 + workers * load / 100), 1)
    chaos.spec.report.left_out(
        cpu.path,
        {"workers": workers, "load": load},
        f"approximated: the service is throttled to {cpu_percent:g} % of the CPU",
    )
    arguments = {
        "service": service,
        "cpu_percent": cpu_percent,
        **chaos.selection.amount(),
        "ttl_s": faults.ttl_s(chaos.duration_s),
    }
    chaos.add(faults.action(chaos.name, "chaos.faults.resources", "throttle_cpu", arguments))


IMPORTERS: dict[str, Callable[[Chaos], None]] = {
    "PodChaos": _pod,
    "NetworkChaos": _network,
    "HTTPChaos": _http,
    "StressChaos": _stress,
}


def import_chaos(document: Node, kind: str, target: ImportTarget, parts: Parts) -> None:
    """One Chaos Mesh object (a Schedule imports the chaos it schedules, once)."""
    metadata = document.child("metadata")
    name = str(metadata.take("name") or kind) if metadata else kind
    namespace = str(metadata.take("namespace") or "default") if metadata else "default"
    if metadata is not None:
        metadata.finish()
    spec = document.child("spec")
    if spec is None:
        raise document.report.error("spec", f"a {kind} needs a spec")
    if kind == "Schedule":
        spec.leave("schedule", "gameday runs an experiment once: schedule runs with cron or CI")
        for key in ("historyLimit", "concurrencyPolicy", "startingDeadlineSeconds"):
            spec.leave(key, "gameday runs an experiment once")
        kind = str(spec.take("type"))
        inner = spec.child(kind[:1].lower() + kind[1:])
        if kind not in IMPORTERS or inner is None:
            raise document.report.error(
                spec.where("type"), f"{kind!r}: a Schedule of {', '.join(IMPORTERS)} is imported"
            )
        spec.finish()
        spec = inner
    chaos = Chaos(name, spec, namespace, target, parts)
    parts.titles.append(f"Chaos Mesh {kind} {name}")
    parts.descriptions.append(f"{kind} {name} on {chaos.selection.label_selector}")
    IMPORTERS[kind](chaos)
    spec.finish()
    document.finish()
