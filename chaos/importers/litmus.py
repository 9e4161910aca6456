"""LitmusChaos: a ChaosEngine (appinfo, experiments with their env, probes) as our faults
and hypothesis probes. Field names and defaults follow the ChaosHub experiment docs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaos.importers import faults
from chaos.importers.litmus_probes import import_probe
from chaos.importers.model import ImportTarget
from chaos.importers.parts import Parts
from chaos.importers.selection import (
    Selection,
    mesh_service,
    no_service_reason,
    parse_label_selector,
)
from chaos.importers.source import Node, Report

MAX_REPEATS = 30
NARROWING = ("TARGET_PODS", "NODE_LABEL_FOR_TARGET_PODS")
DESTINATIONS = "the fault proxy acts on a service's edges, not on destination addresses"
RUNTIME = "gameday needs no helper pods, runtimes or interfaces to inject faults"
IGNORED_EVERYWHERE = {
    "TARGET_CONTAINER": RUNTIME,
    "CONTAINER_RUNTIME": RUNTIME,
    "SOCKET_PATH": RUNTIME,
    "NETWORK_INTERFACE": RUNTIME,
    "LIB_IMAGE": RUNTIME,
    "LIB": RUNTIME,
    "TC_IMAGE": RUNTIME,
    "RAMP_TIME": "no ramp: add pauses to the method by hand",
    "SEQUENCE": "our faults act on every chosen pod at once",
}


@dataclass
class Experiment:
    """One entry of `spec.experiments` with what it targets."""

    name: str
    node: Node
    env: Node
    selection: Selection | None
    target: ImportTarget
    parts: Parts

    def duration_s(self, default: float) -> float:
        return self.env.seconds("TOTAL_CHAOS_DURATION", default) or default

    def service_or_report(self) -> str | None:
        service = mesh_service(self.selection, self.target) if self.selection else None
        if service is None:
            reason = (
                no_service_reason(self.selection, self.target)
                if self.selection
                else "spec.appinfo.applabel names no application"
            )
            self.node.report.left_out(self.node.path, self.name, reason)
        return service

    def affected(self) -> Selection | None:
        """The selection with `PODS_AFFECTED_PERC` (0 or unset: one pod)."""
        percent = self.env.number("PODS_AFFECTED_PERC", 0)
        if self.selection is None or not percent:
            return self.selection
        return Selection(self.selection.namespace, self.selection.labels, percent=percent)

    def add(self, activity: dict[str, Any], pause_s: float | None) -> None:
        self.parts.method.append(faults.paused(activity, pause_s))
        rollback = faults.rollback_for(activity)
        if rollback is not None:
            self.parts.rollbacks.append(rollback)


def _pod_delete(exp: Experiment) -> bool:
    if exp.selection is None:
        exp.node.report.left_out(exp.node.path, exp.name, "spec.appinfo.applabel is required")
        return False
    if exp.target != "k8s" and exp.service_or_report() is None:
        return False
    duration = exp.duration_s(15)
    interval = exp.env.seconds("CHAOS_INTERVAL", 5) or 5
    force = str(exp.env.take("FORCE", "true")).lower() != "false"
    if not force:
        exp.env.report.left_out(
            exp.env.where("FORCE"), "false", "approximated: a 30 s grace period"
        )
    exp.env.approximate("RANDOMNESS", "kills come every CHAOS_INTERVAL")
    repeats = min(MAX_REPEATS, max(1, int(duration // interval)))
    selection = exp.affected() or exp.selection
    for index in range(repeats):
        kill = faults.kill(f"{exp.name}-{index + 1}", selection, exp.target, 0 if force else 30)
        exp.add(kill, interval)
    return True


def _network_latency(exp: Experiment) -> bool:
    service = exp.service_or_report()
    latency_ms = int(exp.env.number("NETWORK_LATENCY", 2000) or 0)
    jitter_ms = int(exp.env.number("JITTER", 0) or 0)
    duration = exp.duration_s(60)
    if service is None:
        return False
    where = faults.network_target(service, None)
    exp.add(faults.latency(exp.name, where, latency_ms, jitter_ms, duration), duration)
    return True


def _network_loss(exp: Experiment) -> bool:
    service = exp.service_or_report()
    loss = exp.env.number("NETWORK_PACKET_LOSS_PERCENTAGE", 100)
    duration = exp.duration_s(60)
    if service is None:
        return False
    if loss != 100:
        exp.node.report.left_out(
            exp.env.where("NETWORK_PACKET_LOSS_PERCENTAGE"),
            loss,
            "the fault proxy works on TCP streams: only a 100 % loss maps (to a partition)",
        )
        return False
    where = faults.network_target(service, None)
    exp.add(faults.partition(exp.name, where, duration), duration)
    return True


def _network_partition(exp: Experiment) -> bool:
    service = exp.service_or_report()
    duration = exp.duration_s(60)
    for key in ("POLICY_TYPES", "NAMESPACE_SELECTOR", "POD_SELECTOR", "PORTS"):
        exp.env.leave(key, "the partition cuts every edge into the service")
    if service is None:
        return False
    exp.add(faults.partition(exp.name, faults.network_target(service, None), duration), duration)
    return True


def _http_status_code(exp: Experiment) -> bool:
    if exp.target == "k8s":
        exp.node.report.left_out(exp.node.path, exp.name, faults.HTTP_ON_K8S)
        return False
    service = exp.service_or_report()
    codes = str(exp.env.take("STATUS_CODE", "") or "500")
    duration = exp.duration_s(60)
    toxicity = (exp.env.number("TOXICITY", 100) or 0) / 100
    body = exp.env.take("RESPONSE_BODY", "")
    exp.env.leave("MODIFY_RESPONSE_BODY", "the answer carries RESPONSE_BODY when given")
    exp.env.leave("TARGET_SERVICE_PORT", "every request into the service is matched")
    if "," in codes:
        exp.env.report.left_out(
            exp.env.where("STATUS_CODE"), codes, "approximated: the first code is used"
        )
    exp.env.report.left_out(
        exp.env.where("STATUS_CODE"),
        codes,
        "approximated: the proxy answers in place of the service instead of rewriting its answer",
    )
    if service is None:
        return False
    arguments = {"http_status": int(codes.split(",")[0]), "toxicity": toxicity, "body": body or ""}
    where = faults.network_target(service, None)
    exp.add(faults.http_fault(exp.name, "abort_requests", where, arguments, duration), duration)
    return True


def _cpu_hog(exp: Experiment) -> bool:
    cores = exp.env.number("CPU_CORES", 1) or 1
    load = exp.env.number("CPU_LOAD", 100) or 100
    duration = exp.duration_s(60)
    if exp.target == "k8s":
        exp.node.report.left_out(exp.node.path, exp.name, faults.RESOURCES_ON_K8S)
        return False
    service = exp.service_or_report()
    if service is None:
        return False
    # The hog and the service share the CPU fairly: the service keeps 1 share of
    # 1 + cores * load / 100.
    cpu_percent = round(100 / (1 + cores * load / 100), 1)
    exp.env.report.left_out(
        exp.env.where("CPU_LOAD"),
        load,
        f"approximated: the service is throttled to {cpu_percent:g} % of the CPU, its fair "
        "share beside the hog",
    )
    arguments = {"service": service, "cpu_percent": cpu_percent, "ttl_s": faults.ttl_s(duration)}
    selection = exp.affected()
    arguments.update(selection.amount() if selection else {})
    exp.add(faults.action(exp.name, "chaos.faults.resources", "throttle_cpu", arguments), duration)
    return True


def _node_drain(exp: Experiment) -> bool:
    node, label = exp.env.take("TARGET_NODE"), exp.env.take("NODE_LABEL")
    duration = exp.duration_s(60)
    if exp.target != "k8s":
        exp.node.report.left_out(exp.node.path, exp.name, "the local mesh has no nodes")
        return False
    if not node and not label:
        raise exp.node.report.error(exp.env.path, "node-drain needs TARGET_NODE or NODE_LABEL")
    arguments = {"node": node} if node else {"node_selector": label}
    drain = faults.action(exp.name, "chaos.faults.kubernetes_node", "drain_node", arguments)
    exp.add(drain, duration)
    return True


FAULTS: dict[str, Callable[[Experiment], bool]] = {
    "pod-delete": _pod_delete,
    "pod-network-latency": _network_latency,
    "pod-network-loss": _network_loss,
    "pod-network-partition": _network_partition,
    "pod-http-status-code": _http_status_code,
    "pod-cpu-hog": _cpu_hog,
    "node-drain": _node_drain,
}


def _env(spec: Node | None, path: str, report: Report) -> Node:
    components = spec.child("components") if spec else None
    entries = components.children("env") if components else []
    values: dict[str, Any] = {}
    for entry in entries:
        name, value = entry.take("name"), entry.take("value")
        entry.finish()
        if value not in (None, ""):  # an empty value means the experiment's default
            values[str(name)] = value
    if components is not None:
        components.finish()
    return Node(values, f"{path}.components.env", report)


def _selection(engine: Node, default_namespace: str) -> Selection | None:
    appinfo = engine.child("appinfo")
    if appinfo is None:
        return None
    namespace = str(appinfo.take("appns") or default_namespace)
    label = appinfo.take("applabel")
    appinfo.take("appkind")  # the label selects the pods whatever owns them
    appinfo.finish()
    if not label:
        return None
    return Selection(namespace, parse_label_selector(label, appinfo, "applabel"))


def import_chaos_engine(document: Node, target: ImportTarget, parts: Parts) -> None:
    metadata = document.child("metadata")
    name = str(metadata.take("name") or "chaos-engine") if metadata else "chaos-engine"
    namespace = str(metadata.take("namespace") or "default") if metadata else "default"
    if metadata is not None:
        metadata.finish()
    spec = document.child("spec")
    if spec is None:
        raise document.report.error("spec", "a ChaosEngine needs a spec")
    selection = _selection(spec, namespace)
    if selection is not None:
        parts.namespace(selection.namespace)
    parts.titles.append(f"LitmusChaos {name}")
    for exp_node in spec.children("experiments"):
        exp_name = str(exp_node.take("name"))
        exp_spec = exp_node.child("spec")
        env = _env(exp_spec, f"{exp_node.path}.spec", document.report)
        experiment = Experiment(exp_name, exp_node, env, selection, target, parts)
        handler = FAULTS.get(exp_name)
        if handler is None:
            document.report.left_out(
                exp_node.where("name"), exp_name, f"imported experiments: {', '.join(FAULTS)}"
            )
        elif narrowing := [key for key in NARROWING if key in env.data]:
            # Left out, these would widen the fault to every pod the label matches.
            raise document.report.error(
                env.where(narrowing[0]),
                "only appinfo.applabel (and PODS_AFFECTED_PERC) choose pods on import; "
                "without this the fault would reach more pods than the source's",
            )
        elif handler(experiment):
            on = selection.label_selector if selection else "the cluster"
            parts.descriptions.append(f"{exp_name} on {on}")
            for key, reason in IGNORED_EVERYWHERE.items():
                env.leave(key, reason)
            for key in ("DESTINATION_IPS", "DESTINATION_HOSTS"):
                env.leave(key, DESTINATIONS)
            env.finish()
        for probe_node in exp_spec.children("probe") if exp_spec else []:
            probe = import_probe(
                probe_node, selection.namespace if selection else namespace, target
            )
            if probe is not None:
                parts.probes.append(probe.activity)
                if probe.interval_s:
                    parts.probe_intervals_s.append(probe.interval_s)
        if exp_spec is not None:
            exp_spec.finish()
        exp_node.finish()
    spec.finish()
    document.finish()
