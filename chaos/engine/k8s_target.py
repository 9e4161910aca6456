"""A Kubernetes target (`--target k8s[:CONTEXT]`): one experiment file, many targets.

Before a run (and before a dry run) the experiment is adapted to the cluster:

1. Every mesh-level provider is replaced by its Kubernetes equivalent from `EQUIVALENTS`
   (services become the label `app.kubernetes.io/name=SERVICE` the k8s/ manifests put on
   every pod; proxy edges become the pods' Toxiproxy sidecars). A provider with no
   equivalent (the mesh invariants, pausing processes) is a located validation error.
2. The blast-radius rules of `chaos.safety.k8s_scope` are checked on every Kubernetes
   fault of the adapted experiment (namespace allow-listed, system namespaces refused,
   no empty or negation-only selector), so nothing is touched when one would be refused.
3. Load: the run's Locust runs on this machine, so it needs the gateway as reached from
   here (e.g. through `kubectl port-forward svc/gateway`): `load.host`, else configuration
   `k8s_gateway_url` (which keeps the file runnable on the local mesh, where an unset
   `load.host` means the mesh's gateway). We do not open a port-forward behind the user's
   back for a whole run. Gateway paths of the http probes (`url: /healthz`) use it too.

Then `check_cluster` asks the API server its version and reads the allow-listed
namespaces (every call with the configured timeout) before anything starts.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from chaos.engine.target import CouldNotRun
from chaos.experiment import ExperimentError, LoadedExperiment, Target
from chaos.experiment.models import Activity, Experiment
from chaos.experiment.providers import check_python_provider
from chaos.experiment.source import Document, FieldPath, read_document
from chaos.safety.dry_run import BlastRadius, Resolver
from chaos.safety.k8s_scope import (
    NAMESPACES_KEY,
    BlastRadiusRefused,
    K8sScope,
    parse_selector,
)

CONTEXT_KEY = "k8s_context"
GATEWAY_KEY = "k8s_gateway_url"
DRY_RUN_KEY = "gameday_dry_run"
NAME_LABEL = "app.kubernetes.io/name"
DEFAULT_NAMESPACE = "gameday-lab"
HYPOTHESIS_KEY = "steady-state-hypothesis"
# What `kubectl delete pod` does without --grace-period: SIGTERM, then SIGKILL after 30 s.
SIGTERM_GRACE_S = 30

NETWORK = "chaos.faults.network"
PROCESS = "chaos.faults.process"
REPLICAS = "chaos.probes.replicas"
INVARIANTS = "chaos.probes.invariants"
HTTP = "chaos.probes.http"
K8S_FAULTS = "chaos.faults.kubernetes"
K8S_NETWORK = "chaos.faults.kubernetes_network"
K8S_PROBES = "chaos.probes.kubernetes"
K8S_RECOVERY = "chaos.probes.kubernetes_recovery"
FAULT_MODULES = (K8S_FAULTS, K8S_NETWORK)
SELECTOR_ARGUMENTS = ("label_selector", "from_selector", "to_selector")


class NoEquivalent(ValueError):
    """A provider (or one of its arguments) has no Kubernetes equivalent."""


@dataclass(frozen=True)
class Cluster:
    """What a translation needs to know about the target."""

    namespace: str
    gateway_url: str | None


Translate = Callable[[dict[str, Any], Cluster], dict[str, Any]]


@dataclass(frozen=True)
class Equivalent:
    module: str
    func: str
    translate: Translate
    note: str


# -- argument translations ------------------------------------------------------------------


def _edge_pattern(arguments: Mapping[str, Any]) -> str:
    """The one edge pattern of the mesh-style target arguments (edge, service or proxy)."""
    given = [key for key in ("edge", "service", "proxy") if arguments.get(key)]
    if len(given) != 1:
        raise NoEquivalent("name the target with exactly one of `edge`, `service` or `proxy`")
    value = arguments[given[0]]
    if given[0] == "service":
        return f"*->{value}"
    if given[0] == "proxy":
        names = [value] if isinstance(value, str) else list(value)
        if len(names) != 1:
            raise NoEquivalent("on Kubernetes, name one proxy (an edge) per fault")
        return str(names[0])
    return str(value)


def _sidecar_edge(pattern: str) -> str:
    """The edge as the sidecars address it. `client->gateway` is the ingress listener in
    the gateway pods' sidecars (the gateway Service points at it), not in a `client` pod;
    as nothing in the shop calls the gateway, `*->gateway` names exactly that listener."""
    caller, _, callee = pattern.partition("->")
    if caller != "client":
        return pattern
    if callee != "gateway":
        raise NoEquivalent(f"edge {pattern!r}: the cluster's only client edge is client->gateway")
    return "*->gateway"


def _with_edge(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    """Same function, same arguments; the target becomes one `edge` in the namespace."""
    pattern = _sidecar_edge(_edge_pattern(arguments))
    rest = {k: v for k, v in arguments.items() if k not in ("edge", "service", "proxy")}
    return {**rest, "edge": pattern, "namespace": cluster.namespace}


def _partition(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    if arguments.get("mode", "blackhole") != "blackhole":
        raise NoEquivalent(
            "mode 'refuse' (a disabled proxy) has no sidecar equivalent; use 'blackhole', or "
            "chaos.faults.kubernetes.partition for a NetworkPolicy partition"
        )
    return _with_edge(arguments, cluster)


def _toxic(toxic_type: str, attributes: Mapping[str, tuple[str, int]]) -> Translate:
    """A mesh toxic fault as `add_sidecar_toxic`: attribute -> (argument, default). The
    mesh's `ttl_s` and `proxy_api` are dropped: a sidecar has no TTL and its own API."""

    def translate(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
        values = {
            attribute: int(arguments.get(argument, default))
            for attribute, (argument, default) in attributes.items()
        }
        translated: dict[str, Any] = {
            "edge": _sidecar_edge(_edge_pattern(arguments)),
            "toxic_type": toxic_type,
            "attributes": values,
            "namespace": cluster.namespace,
        }
        for key in ("stream", "toxicity"):
            if key in arguments:
                translated[key] = arguments[key]
        return translated

    return translate


def _selector(service: Any) -> str:
    if not service:
        raise NoEquivalent("name the `service`")
    return f"{NAME_LABEL}={service}"


def _kill(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    signal = arguments.get("signal", "SIGKILL")
    translated: dict[str, Any] = {
        "label_selector": _selector(arguments.get("service")),
        "namespace": cluster.namespace,
        "grace_period_seconds": 0 if signal == "SIGKILL" else SIGTERM_GRACE_S,
    }
    if arguments.get("percent") is not None:
        translated.update(mode="percent", percent=arguments["percent"])
    else:
        translated.update(mode="count", count=arguments.get("count", 1))
    if arguments.get("seed") is not None:
        translated["seed"] = arguments["seed"]
    return translated


def _pods(*keep: str) -> Translate:
    def translate(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
        kept = {key: arguments[key] for key in keep if key in arguments}
        return {
            "label_selector": _selector(arguments.get("service")),
            "namespace": cluster.namespace,
            **kept,
        }

    return translate


def _gateway_url(arguments: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    url = str(arguments.get("url", ""))
    if not url.startswith("/"):
        return arguments
    if not cluster.gateway_url:
        raise NoEquivalent(
            f"url {url!r} is a path on the mesh gateway; on a Kubernetes target set load.host "
            f"or configuration {GATEWAY_KEY!r} (the gateway as reached from here), or give a "
            "full URL"
        )
    return {**arguments, "url": cluster.gateway_url.rstrip("/") + url}


_SIDECAR = "the callers' Toxiproxy sidecars"

# (mesh module, function) -> its Kubernetes equivalent, or why there is none.
EQUIVALENTS: dict[tuple[str, str], Equivalent | str] = {
    (NETWORK, "add_latency"): Equivalent(K8S_NETWORK, "add_latency", _with_edge, _SIDECAR),
    (NETWORK, "reset_connections"): Equivalent(
        K8S_NETWORK, "reset_connections", _with_edge, _SIDECAR
    ),
    (NETWORK, "partition"): Equivalent(K8S_NETWORK, "partition", _partition, "blackhole only"),
    (NETWORK, "remove_toxics"): Equivalent(K8S_NETWORK, "remove_toxics", _with_edge, _SIDECAR),
    (NETWORK, "heal_partition"): Equivalent(K8S_NETWORK, "heal_partition", _with_edge, _SIDECAR),
    (NETWORK, "limit_bandwidth"): Equivalent(
        K8S_NETWORK,
        "add_sidecar_toxic",
        _toxic("bandwidth", {"rate": ("rate_kbps", 0)}),
        "toxic `bandwidth`",
    ),
    (NETWORK, "slow_close"): Equivalent(
        K8S_NETWORK,
        "add_sidecar_toxic",
        _toxic("slow_close", {"delay": ("delay_ms", 0)}),
        "toxic `slow_close`",
    ),
    (NETWORK, "slice_packets"): Equivalent(
        K8S_NETWORK,
        "add_sidecar_toxic",
        _toxic(
            "slicer",
            {
                "average_size": ("average_size", 0),
                "size_variation": ("size_variation", 0),
                "delay": ("delay_us", 0),
            },
        ),
        "toxic `slicer`",
    ),
    (NETWORK, "limit_data"): Equivalent(
        K8S_NETWORK,
        "add_sidecar_toxic",
        _toxic("limit_data", {"bytes": ("bytes", 0)}),
        "toxic `limit_data`",
    ),
    (PROCESS, "kill_replicas"): Equivalent(
        K8S_FAULTS, "kill_pods", _kill, "SIGKILL: grace 0; SIGTERM: grace 30 s"
    ),
    (PROCESS, "pause_replicas"): (
        "a pod's processes cannot be paused through the Kubernetes API; for a hang use "
        "chaos.faults.network.partition (blackhole) on the edges into the service"
    ),
    (PROCESS, "resume_replicas"): "pausing has no Kubernetes equivalent, so neither has resuming",
    (REPLICAS, "replicas_ready"): Equivalent(K8S_PROBES, "count_ready_pods", _pods(), "Ready pods"),
    (REPLICAS, "all_replicas_ready"): Equivalent(
        K8S_PROBES, "all_pods_ready", _pods(), "every pod Ready"
    ),
    (REPLICAS, "seconds_until_ready"): Equivalent(
        K8S_RECOVERY,
        "seconds_until_pods_ready",
        _pods("min_ready", "timeout_s", "poll_s"),
        "Ready pods",
    ),
    (HTTP, "http_status"): Equivalent(HTTP, "http_status", _gateway_url, "gateway paths"),
    (HTTP, "http_latency_ms"): Equivalent(HTTP, "http_latency_ms", _gateway_url, "gateway paths"),
    (HTTP, "http_ok"): Equivalent(HTTP, "http_ok", _gateway_url, "gateway paths"),
    (HTTP, "http_json"): Equivalent(HTTP, "http_json", _gateway_url, "gateway paths"),
}
# Modules that only make sense on the local mesh: a function of theirs missing from the
# table has no equivalent.
MESH_MODULES = {
    NETWORK: "it talks to the local mesh's fault proxy",
    PROCESS: "it signals the local mesh's processes",
    REPLICAS: "it reads the local mesh's state file",
    INVARIANTS: (
        "the mesh invariants read the local mesh's SQLite databases, which a cluster does not "
        "expose; check consistency with an http probe on the shop's API instead"
    ),
}


def equivalent(module: str, func: str) -> Equivalent | None:
    """The Kubernetes equivalent of a provider; None when it runs unchanged on a cluster.
    Raises `NoEquivalent` for a mesh-only provider."""
    found = EQUIVALENTS.get((module, func))
    if isinstance(found, Equivalent):
        return found
    if isinstance(found, str):
        raise NoEquivalent(found)
    if module in MESH_MODULES:
        raise NoEquivalent(MESH_MODULES[module])
    return None


# -- the adapted experiment -----------------------------------------------------------------


def cluster_configuration(loaded: LoadedExperiment, target: Target) -> dict[str, Any]:
    """The experiment's configuration with the context of `--target k8s:CONTEXT`."""
    configuration = dict(loaded.data.get("configuration") or {})
    if target.context:
        configuration[CONTEXT_KEY] = target.context
    return configuration


def _namespace(configuration: Mapping[str, Any]) -> str:
    """Where mapped providers act: the first allow-listed namespace (the lab's by default)."""
    try:
        scope = K8sScope.from_configuration(configuration)
    except BlastRadiusRefused:
        return DEFAULT_NAMESPACE
    return scope.namespaces[0] if scope.namespaces else DEFAULT_NAMESPACE


def _activities(data: Mapping[str, Any]) -> list[tuple[FieldPath, dict[str, Any]]]:
    found: list[tuple[FieldPath, dict[str, Any]]] = []
    hypothesis = data.get(HYPOTHESIS_KEY) or {}
    for index, activity in enumerate(hypothesis.get("probes") or []):
        found.append(((HYPOTHESIS_KEY, "probes", index), activity))
    for section in ("method", "rollbacks"):
        for index, activity in enumerate(data.get(section) or []):
            found.append(((section, index), activity))
    return [(path, a) for path, a in found if isinstance(a, dict)]


def _python_provider(activity: Mapping[str, Any]) -> dict[str, Any] | None:
    provider = activity.get("provider")
    if isinstance(provider, dict) and provider.get("type") == "python":
        return provider
    return None


def _default(module: str, func: str, parameter: str) -> Any:
    target = getattr(importlib.import_module(module), func)
    found = inspect.signature(target).parameters.get(parameter)
    if found is None or found.default is inspect.Parameter.empty:
        return None
    return found.default


def _scope_issues(
    document: Document, data: Mapping[str, Any], configuration: Mapping[str, Any]
) -> list[Any]:
    """Every Kubernetes fault of the (adapted) experiment within the blast radius."""
    try:
        scope = K8sScope.from_configuration(configuration)
    except BlastRadiusRefused as exc:
        return [document.issue(("configuration", NAMESPACES_KEY), str(exc))]
    issues = []
    for path, activity in _activities(data):
        provider = _python_provider(activity)
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


def adapt_experiment(
    loaded: LoadedExperiment, target: Target, shared_load: bool = False
) -> LoadedExperiment:
    """The experiment as it runs on the cluster: mapped providers, blast radius checked.

    Raises `ExperimentError` (located) for a provider with no equivalent, a fault outside
    the blast radius, or load without `load.host`. `shared_load`: a game day's load is
    already running, so this run needs no host of its own.
    """
    document = read_document(loaded.path)
    configuration = cluster_configuration(loaded, target)
    model = loaded.model
    gateway = (model.load.host if model.load else None) or configuration.get(GATEWAY_KEY)
    cluster = Cluster(namespace=_namespace(configuration), gateway_url=gateway)
    data = copy.deepcopy(loaded.data)
    issues: list[Any] = []
    # A different topology changes what the experiment tests (e.g. a circuit breaker
    # switched off); the cluster runs the k8s/ manifests as deployed, so refuse rather than
    # run something else. Replica counts are the Deployments' own (not an error).
    for key in ("topology", "topology_overrides"):
        if getattr(model.target, key):
            issues.append(
                document.issue(
                    ("target", key),
                    f"target.{key} changes the local mesh; a Kubernetes target runs the "
                    "k8s/ manifests as deployed, so this experiment cannot run there as written",
                )
            )
    if model.load is not None and not model.load.host:
        if gateway:
            data["load"] = {**(data.get("load") or {}), "host": gateway}
        elif not shared_load:
            issues.append(
                document.issue(
                    ("load", "host"),
                    "on a Kubernetes target the run's Locust runs on this machine: set "
                    f"load.host or configuration {GATEWAY_KEY!r} to the gateway as reached "
                    "from here (e.g. `kubectl -n gameday-lab port-forward svc/gateway "
                    "8080:8080` and http://127.0.0.1:8080), or load: false",
                )
            )
    for path, activity in _activities(data):
        provider = _python_provider(activity)
        if provider is None:
            continue
        name = activity.get("name") or "?"
        module, func = str(provider.get("module")), str(provider.get("func"))
        arguments = dict(provider.get("arguments") or {})
        try:
            found = equivalent(module, func)
            if found is None:
                continue
            mapped = found.translate(arguments, cluster)
        except NoEquivalent as exc:
            issues.append(
                document.issue(
                    (*path, "provider"),
                    f"activity {name!r}: {module}.{func} has no Kubernetes equivalent: {exc}",
                )
            )
            continue
        provider.update(module=found.module, func=found.func, arguments=mapped)
        # The table is code: check each mapped call against the real signature.
        issues += check_python_provider(
            document, (*path, "provider"), found.module, found.func, mapped
        )
    # Faults that did map are checked even when others did not, so one validation names
    # every problem (an unmapped provider is no Kubernetes fault and is skipped there).
    issues += _scope_issues(document, data, configuration)
    if issues:
        raise ExperimentError(issues)
    try:
        adapted = Experiment.model_validate(data)
    except ValidationError as exc:
        # Only what we filled in can be invalid here: the file itself validated.
        message = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        raise ExperimentError([document.issue(("configuration", GATEWAY_KEY), message)]) from exc
    return LoadedExperiment(path=loaded.path, model=adapted, data=data, secrets=loaded.secrets)


# -- the cluster ------------------------------------------------------------------------------


def check_cluster(configuration: Mapping[str, Any]) -> str:
    """Ask the API server its version and read every allow-listed namespace (each call
    with `k8s_request_timeout_s`); return the version. Raises `CouldNotRun`."""
    from chaos.k8s.client import connect
    from chaos.k8s.errors import KubernetesError, KubernetesNotFound

    try:
        namespaces = K8sScope.from_configuration(configuration).namespaces
    except BlastRadiusRefused as exc:
        raise CouldNotRun(str(exc)) from exc
    try:
        with connect(configuration) as api:
            version = str(api.version().git_version)
            for namespace in namespaces:
                try:
                    found = api.read_namespace(namespace)
                except KubernetesNotFound as exc:
                    raise CouldNotRun(
                        f"namespace {namespace!r} does not exist on {api.host} "
                        "(`gameday lab up` creates gameday-lab)"
                    ) from exc
                phase = found.status.phase if found.status else None
                if phase != "Active":
                    raise CouldNotRun(f"namespace {namespace!r} is {phase}, not Active")
    except KubernetesError as exc:
        raise CouldNotRun(f"the Kubernetes cluster is not reachable: {exc}") from exc
    return version


# -- dry run ----------------------------------------------------------------------------------


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
    for key in ("from_pods", "to_pods"):
        if result.get(key):
            lines.append(f"{key.replace('_', ' ')}: {', '.join(result[key])}")
    return lines


def _add_to_radius(radius: BlastRadius, arguments: Mapping[str, Any], pods: list[str]) -> None:
    selector = str(arguments.get("label_selector") or "")
    edge = str(arguments.get("edge") or "")
    if edge:
        radius.edges.append(edge)
        callee = edge.partition("->")[2]
        if callee and "*" not in callee:
            radius.services.append(callee)
    if selector.startswith(f"{NAME_LABEL}="):
        radius.services.append(selector.partition("=")[2])
    if arguments.get("name"):
        radius.services.append(str(arguments["name"]))
    if pods:
        radius.replicas[selector or edge or str(arguments.get("name"))] = f"{len(pods)} pod(s)"


def dry_run_resolver(configuration: Mapping[str, Any], unreachable: str | None = None) -> Resolver:
    """A resolver for the dry-run plan: calls each Kubernetes fault with `dry_run=True`
    (it only reads) and lists the pods and objects it would touch."""
    read_only = {**configuration, DRY_RUN_KEY: True}

    def resolve(activity: Activity, radius: BlastRadius) -> tuple[str | None, list[str]]:
        provider = activity.provider
        if provider is None or provider.module not in FAULT_MODULES:
            return None, []
        arguments = dict(provider.arguments) if isinstance(provider.arguments, dict) else {}
        target = str(
            arguments.get("label_selector")
            or arguments.get("edge")
            or arguments.get("name")
            or ", ".join(f"{k}={v}" for k, v in arguments.items())
        )
        if unreachable is not None:
            return target, [f"(not resolved: {unreachable})"]
        func = getattr(importlib.import_module(provider.module), provider.func)
        if "dry_run" not in inspect.signature(func).parameters:
            return target, ["(an undo: nothing to resolve)"]
        try:
            result = func(**{**arguments, "dry_run": True}, configuration=read_only)
        except Exception as exc:  # noqa: BLE001 - the plan says why the step would fail
            return target, [f"(would fail: {type(exc).__name__}: {exc})"]
        pods = result.get("would_delete") or [
            change.split()[0].removeprefix("pod/") for change in result.get("would_change") or []
        ]
        touched = sorted({*pods, *(result.get("from_pods") or []), *(result.get("to_pods") or [])})
        _add_to_radius(radius, arguments, touched)
        return target, _describe(result)

    return resolve
