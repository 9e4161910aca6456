"""A Kubernetes target (`--target k8s[:CONTEXT]`): one experiment file, many targets.

Before a run (and before a dry run) the experiment is adapted to the cluster:

1. Every mesh-level provider is replaced by its Kubernetes equivalent
   (`chaos.engine.k8s_mapping`).
2. The blast-radius rules are checked on every Kubernetes fault of the adapted experiment
   (`chaos.engine.k8s_blast_radius`), so nothing is touched when one would be refused.
3. Load: the run's Locust runs on this machine, so it needs the gateway as reached from
   here (e.g. through `kubectl port-forward svc/gateway`): `load.host`, else configuration
   `k8s_gateway_url` (which keeps the file runnable on the local mesh, where an unset
   `load.host` means the mesh's gateway). We do not open a port-forward behind the user's
   back for a whole run. Gateway paths of the http probes (`url: /healthz`) use it too.
4. HTTP faults need sidecars running our fault proxy: configuration `k8s_sidecar`
   (`toxiproxy`, the default k8s/ deploys, or `gameday`) says which the cluster runs.

Then `check_cluster` (`chaos.engine.k8s_preflight`) checks the cluster before anything
starts, and a dry run resolves each fault with `dry_run_resolver`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from chaos.engine.k8s_blast_radius import dry_run_resolver, scope_issues
from chaos.engine.k8s_mapping import (
    EQUIVALENTS,
    GATEWAY_KEY,
    K8S_HTTP,
    SIDECAR_KEY,
    SIDECARS,
    TOXIPROXY_SIDECAR,
    Cluster,
    Equivalent,
    NoEquivalent,
    activities,
    equivalent,
    http_refusal,
    python_provider,
)
from chaos.engine.k8s_preflight import check_cluster
from chaos.experiment import ExperimentError, LoadedExperiment, Target
from chaos.experiment.extension import extension_index, model_fields, settings_path
from chaos.experiment.models import Experiment
from chaos.experiment.providers import check_python_provider
from chaos.experiment.source import read_document
from chaos.safety.k8s_scope import BlastRadiusRefused, K8sScope

# What the engine and the CLI use of a Kubernetes target, in one place.
__all__ = [
    "EQUIVALENTS",
    "Equivalent",
    "adapt_experiment",
    "check_cluster",
    "cluster_configuration",
    "dry_run_resolver",
]

CONTEXT_KEY = "k8s_context"
DEFAULT_NAMESPACE = "gameday-lab"


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
    sidecar = str(configuration.get(SIDECAR_KEY) or TOXIPROXY_SIDECAR)
    cluster = Cluster(namespace=_namespace(configuration), gateway_url=gateway, sidecar=sidecar)
    data = copy.deepcopy(loaded.data)
    issues: list[Any] = []
    if sidecar not in SIDECARS:
        issues.append(
            document.issue(
                ("configuration", SIDECAR_KEY),
                f"{SIDECAR_KEY} must be one of {', '.join(SIDECARS)}, not {sidecar!r}",
            )
        )
    # A different topology changes what the experiment tests (e.g. a circuit breaker
    # switched off); the cluster runs the k8s/ manifests as deployed, so refuse rather than
    # run something else. Replica counts are the Deployments' own (not an error).
    for key in ("topology", "topology_overrides"):
        if getattr(model.target, key):
            issues.append(
                document.issue(
                    settings_path(document.data, ("target", key)),
                    f"target.{key} changes the local mesh; a Kubernetes target runs the "
                    "k8s/ manifests as deployed, so this experiment cannot run there as written",
                )
            )
    if model.load is not None and not model.load.host:
        if gateway:
            extension = data["extensions"][extension_index(data)]
            extension["load"] = {**(extension.get("load") or {}), "host": gateway}
        elif not shared_load:
            issues.append(
                document.issue(
                    settings_path(document.data, ("load", "host")),
                    "on a Kubernetes target the run's Locust runs on this machine: set "
                    f"load.host or configuration {GATEWAY_KEY!r} to the gateway as reached "
                    "from here (e.g. `kubectl -n gameday-lab port-forward svc/gateway "
                    "8080:8080` and http://127.0.0.1:8080), or load: false",
                )
            )
    for path, activity in activities(data):
        provider = python_provider(activity)
        if provider is None:
            continue
        name = activity.get("name") or "?"
        module, func = str(provider.get("module")), str(provider.get("func"))
        arguments = dict(provider.get("arguments") or {})
        refusal = http_refusal(sidecar) if module == K8S_HTTP else None
        if refusal is not None:
            issues.append(document.issue((*path, "provider"), f"activity {name!r}: {refusal}"))
            continue
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
    issues += scope_issues(document, data, configuration)
    if issues:
        raise ExperimentError(issues)
    try:
        adapted = Experiment.model_validate(model_fields(data))
    except ValidationError as exc:
        # Only what we filled in can be invalid here: the file itself validated.
        message = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        raise ExperimentError([document.issue(("configuration", GATEWAY_KEY), message)]) from exc
    return LoadedExperiment(path=loaded.path, model=adapted, data=data, secrets=loaded.secrets)
