"""LitmusChaos resilience probes (httpProbe, promProbe, k8sProbe, cmdProbe) as probes of
the steady-state hypothesis."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from chaos.importers.faults import call
from chaos.importers.model import ImportTarget
from chaos.importers.selection import (
    Selection,
    mesh_service,
    no_service_reason,
    parse_label_selector,
)
from chaos.importers.source import Node

# Range tolerances need two numbers: a one-sided comparison gets the largest float.
UNBOUNDED = sys.float_info.max
MODE_NOTE = (
    "gameday checks every hypothesis probe before, during and after the fault "
    "(Litmus mode {mode} checks it {when})"
)
POD_PROBE_TIMEOUT = "pod probes use the Kubernetes client's request timeout"
MODE_WHEN = {
    "SOT": "only before the fault",
    "EOT": "only after the fault",
    "Edge": "before and after the fault",
    "OnChaos": "only during the fault",
}


@dataclass
class ImportedProbe:
    activity: dict[str, Any]
    interval_s: float | None


def _range(criteria: str, value: Any, node: Node, key: str) -> dict[str, Any] | None:
    """A comparator as a range tolerance; None (and reported) when it has none."""
    try:
        if criteria == "Between":
            low, high = (float(part) for part in str(value).split(","))
            return {"type": "range", "range": [low, high]}
        number = float(value)
    except ValueError:
        raise node.report.error(node.where(key), f"{value!r} is not a number") from None
    bounds = {
        ">=": [number, UNBOUNDED],
        ">": [number, UNBOUNDED],
        "<=": [-UNBOUNDED, number],
        "<": [-UNBOUNDED, number],
        "==": [number, number],
    }.get(criteria)
    if bounds is None:
        node.report.left_out(node.where("criteria"), criteria, "no range tolerance expresses it")
        return None
    if criteria in (">", "<"):
        node.report.left_out(
            node.where("criteria"), criteria, "approximated: range tolerances include the bound"
        )
    return {"type": "range", "range": bounds}


def _http(inputs: Node, name: str, timeout_s: float | None) -> dict[str, Any] | None:
    url = inputs.take("url")
    inputs.leave("insecureSkipVerify", "the http probes verify TLS with the system's CAs")
    method = inputs.child("method")
    if method is None:
        raise inputs.report.error(inputs.where("method"), "needs get: or post:")
    verb, node = ("GET", method.child("get"))
    if node is None:
        verb, node = ("POST", method.child("post"))
    method.finish()
    if node is None:
        raise inputs.report.error(method.path, "needs get: or post:")
    criteria, code = node.take("criteria", "=="), node.take("responseCode")
    arguments: dict[str, Any] = {"url": url, "method": verb}
    if verb == "POST":
        body = node.take("body")
        if body is not None:
            arguments["body"] = body
        node.leave("contentType", "the http probes send JSON or text as given")
        node.leave("bodyPath", "read the body into the experiment by hand")
    if timeout_s:
        arguments["timeout_s"] = timeout_s
    node.finish()
    if criteria != "==" or code is None:
        node.report.left_out(node.where("criteria"), criteria, "only == on responseCode maps")
        return None
    activity = call(name, "chaos.probes.http", "http_status", arguments, "probe")
    activity["tolerance"] = int(code)
    return activity


def _prometheus(inputs: Node, name: str, timeout_s: float | None) -> dict[str, Any] | None:
    arguments: dict[str, Any] = {"url": inputs.take("endpoint"), "query": inputs.take("query")}
    inputs.leave("queryPath", "put the PromQL in `query`")
    if timeout_s:
        arguments["timeout_s"] = timeout_s
    comparator = inputs.child("comparator")
    if comparator is None:
        raise inputs.report.error(inputs.where("comparator"), "a promProbe needs a comparator")
    tolerance = _range(
        comparator.take("criteria", "=="), comparator.take("value"), comparator, "value"
    )
    comparator.finish()
    if tolerance is None:
        return None
    activity = call(name, "chaos.probes.prometheus", "query", arguments, "probe")
    activity["tolerance"] = tolerance
    return activity


def _pods(inputs: Node, name: str, namespace: str, target: ImportTarget) -> dict[str, Any] | None:
    resource, operation = inputs.take("resource"), inputs.take("operation")
    group, version = inputs.take("group", ""), inputs.take("version", "v1")
    selector = inputs.take("labelSelector")
    ns = inputs.take("namespace") or namespace
    if (resource, group, version) != ("pods", "", "v1") or operation not in ("present", "absent"):
        inputs.report.left_out(
            inputs.path, f"{group}/{version} {resource} {operation}", "only pods present/absent"
        )
        return None
    if not selector:
        inputs.report.left_out(inputs.path, resource, "a pod probe needs a labelSelector")
        return None
    inputs.approximate("fieldSelector", "not applied: the pod probes select by label")
    inputs.report.left_out(inputs.where("operation"), operation, "approximated: counts ready pods")
    if target == "k8s":
        arguments = {"label_selector": selector, "namespace": ns}
        activity = call(name, "chaos.probes.kubernetes", "count_ready_pods", arguments, "probe")
    else:
        labels = parse_label_selector(selector, inputs, "labelSelector")
        service = mesh_service(Selection(ns, labels), target)
        if service is None:
            inputs.report.left_out(
                inputs.where("labelSelector"),
                selector,
                no_service_reason(Selection(ns, labels), target),
            )
            return None
        activity = call(
            name, "chaos.probes.replicas", "replicas_ready", {"service": service}, "probe"
        )
    bounds = [1, UNBOUNDED] if operation == "present" else [0, 0]
    activity["tolerance"] = {"type": "range", "range": bounds}
    return activity


def import_probe(probe: Node, namespace: str, target: ImportTarget) -> ImportedProbe | None:
    """One probe of an experiment; None when it has no equivalent (it is then reported)."""
    name = str(probe.take("name") or "probe")
    kind = probe.take("type")
    if kind not in ("httpProbe", "promProbe", "k8sProbe"):
        probe.report.left_out(
            probe.path, probe.data, f"{kind} has no gameday equivalent (write a probe provider)"
        )
        return None
    mode = probe.take("mode", "Continuous")
    if mode in MODE_WHEN:
        note = MODE_NOTE.format(mode=mode, when=MODE_WHEN[mode])
        probe.report.left_out(probe.where("mode"), mode, f"approximated: {note}")
    run = probe.child("runProperties")
    timeout_s = interval_s = None
    if run is not None:
        timeout_s = run.seconds("probeTimeout")
        interval_s = run.seconds("interval")
        run.finish()
    inputs = probe.child(f"{kind}/inputs")
    if inputs is None:
        raise probe.report.error(probe.where(f"{kind}/inputs"), f"a {kind} needs its inputs")
    if kind == "httpProbe":
        activity = _http(inputs, name, timeout_s)
    elif kind == "promProbe":
        activity = _prometheus(inputs, name, timeout_s)
    else:
        if timeout_s:
            probe.report.left_out(
                f"{probe.path}.runProperties.probeTimeout", timeout_s, POD_PROBE_TIMEOUT
            )
        activity = _pods(inputs, name, namespace, target)
    inputs.finish()
    probe.finish()
    return None if activity is None else ImportedProbe(activity, interval_s)
