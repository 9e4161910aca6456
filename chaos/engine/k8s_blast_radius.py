"""The blast radius of an experiment on a Kubernetes target.

Statically (`scope_issues`, no cluster needed): every Kubernetes fault of the adapted
experiment must act in an allow-listed namespace, never a system one without the override,
with selectors that name something (`chaos.safety.k8s_scope`).

In a dry run (`dry_run_resolver`): each fault is called with `dry_run=True`, so it only
reads, and the plan lists the pods and objects it would touch, by selector.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from chaos.engine.k8s_mapping import FAULT_MODULES, NAME_LABEL, activities, python_provider
from chaos.experiment.models import Activity
from chaos.experiment.source import Document
from chaos.safety.dry_run import BlastRadius, Resolver
from chaos.safety.k8s_scope import NAMESPACES_KEY, BlastRadiusRefused, K8sScope, parse_selector

DRY_RUN_KEY = "gameday_dry_run"
SELECTOR_ARGUMENTS = ("label_selector", "from_selector", "to_selector", "node_selector")


def _default(module: str, func: str, parameter: str) -> Any:
    target = getattr(importlib.import_module(module), func)
    found = inspect.signature(target).parameters.get(parameter)
    if found is None or found.default is inspect.Parameter.empty:
        return None
    return found.default


def scope_issues(
    document: Document, data: Mapping[str, Any], configuration: Mapping[str, Any]
) -> list[Any]:
    """Every Kubernetes fault of the (adapted) experiment within the blast radius."""
    try:
        scope = K8sScope.from_configuration(configuration)
    except BlastRadiusRefused as exc:
        return [document.issue(("configuration", NAMESPACES_KEY), str(exc))]
    issues = []
    for path, activity in activities(data):
        provider = python_provider(activity)
        if provider is None or provider.get("module") not in FAULT_MODULES:
            continue
        module, func = provider["module"], provider["func"]
        arguments = provider.get("arguments") or {}
        namespace = arguments.get("namespace", _default(module, func, "namespace"))
        if namespace is not None:
            try:
                scope.check_namespace(namespace)
            except BlastRadiusRefused as exc:
                issues.append(
                    document.issue((*path, "provider", "arguments", "namespace"), str(exc))
                )
        for key in SELECTOR_ARGUMENTS:
            if key in arguments:
                try:
                    parse_selector(arguments[key])
                except BlastRadiusRefused as exc:
                    issues.append(document.issue((*path, "provider", "arguments", key), str(exc)))
    return issues


# -- dry run ----------------------------------------------------------------------------------


def _pods(pods: list[str]) -> str:
    return f"{len(pods)} pod(s): {', '.join(pods)}" if pods else "no pod"


def _describe(result: Mapping[str, Any]) -> list[str]:
    """One line per pod or object a fault's dry run says it would touch."""
    lines: list[str] = []
    namespace = result.get("namespace", "")
    for name in result.get("would_delete") or []:
        lines.append(f"delete pod {namespace}/{name}")
    for change in result.get("would_change") or []:
        lines.append(f"toxics {', '.join(result.get('toxics') or [])} in {namespace}/{change}")
    for created in result.get("would_create") or []:
        lines.append(f"create {namespace}/{created}")
    if result.get("would_scale"):
        lines.append(
            f"scale {namespace}/{result['would_scale']} "
            f"{result.get('from_replicas')} -> {result.get('to_replicas')}"
        )
    for side in ("from", "to"):
        if result.get(f"{side}_pods"):
            lines.append(
                f"{side} {result.get(f'{side}_selector')}: {', '.join(result[f'{side}_pods'])}"
            )
    for node in result.get("would_cordon") or []:
        lines.append(f"cordon node/{node}")
    for pod in result.get("would_evict") or []:
        lines.append(f"evict pod {pod}")
    for pod in result.get("left_running") or []:
        lines.append(f"leave pod {pod} (outside the allow-list, or a DaemonSet/mirror pod)")
    return lines


def _add_to_radius(
    radius: BlastRadius, arguments: Mapping[str, Any], result: Mapping[str, Any]
) -> None:
    edge = str(arguments.get("edge") or "")
    if edge:
        radius.edges.append(edge)
        callee = edge.partition("->")[2]
        if callee and "*" not in callee:
            radius.services.append(callee)
    # A sidecar fault's own selector picks the callers whose sidecars carry the edge; the
    # service it hurts is the callee, named above.
    selectors = [
        str(arguments.get("label_selector") or ""),
        str(result.get("from_selector") or ""),
        str(result.get("to_selector") or ""),
    ]
    for selector in selectors:
        if selector.startswith(f"{NAME_LABEL}="):
            radius.services.append(selector.partition("=")[2])
    if arguments.get("name"):
        radius.services.append(str(arguments["name"]))
    if result.get("would_delete") is not None:
        radius.replicas[str(result.get("label_selector"))] = _pods(result["would_delete"])
    elif result.get("would_change") is not None:
        touched = [change.split()[0].removeprefix("pod/") for change in result["would_change"]]
        radius.replicas[edge] = _pods(touched)
    for side in ("from", "to"):
        if result.get(f"{side}_pods") is not None:
            radius.replicas[str(result.get(f"{side}_selector"))] = _pods(result[f"{side}_pods"])
    if result.get("would_scale"):
        radius.replicas[str(result["would_scale"])] = (
            f"{result.get('from_replicas')} -> {result.get('to_replicas')} replicas"
        )
    for node in result.get("would_cordon") or []:
        radius.replicas[f"node/{node}"] = f"cordon; evict {_pods(result.get('would_evict') or [])}"


def _target(arguments: Mapping[str, Any]) -> str:
    if arguments.get("from_selector") or arguments.get("to_selector"):
        return f"{arguments.get('from_selector')} x {arguments.get('to_selector')}"
    return str(
        arguments.get("label_selector")
        or arguments.get("edge")
        or arguments.get("name")
        or arguments.get("node")
        or arguments.get("node_selector")
        or ", ".join(f"{k}={v}" for k, v in arguments.items())
    )


def dry_run_resolver(configuration: Mapping[str, Any], unreachable: str | None = None) -> Resolver:
    """A resolver for the dry-run plan: calls each Kubernetes fault with `dry_run=True`
    (it only reads) and lists the pods and objects it would touch."""
    read_only = {**configuration, DRY_RUN_KEY: True}

    def resolve(activity: Activity, radius: BlastRadius) -> tuple[str | None, list[str]]:
        provider = activity.provider
        if provider is None or provider.module not in FAULT_MODULES:
            return None, []
        arguments = dict(provider.arguments) if isinstance(provider.arguments, dict) else {}
        target = _target(arguments)
        if unreachable is not None:
            return target, [f"(not resolved: {unreachable})"]
        func = getattr(importlib.import_module(provider.module), provider.func)
        if "dry_run" not in inspect.signature(func).parameters:
            return target, ["(an undo: nothing to resolve)"]
        try:
            result = func(**{**arguments, "dry_run": True}, configuration=read_only)
        except Exception as exc:  # noqa: BLE001 - the plan says why the step would fail
            return target, [f"(would fail: {type(exc).__name__}: {exc})"]
        _add_to_radius(radius, arguments, result)
        return target, _describe(result)

    return resolve
