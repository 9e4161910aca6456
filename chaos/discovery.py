"""The Chaos Toolkit's discovery of our activities: `chaos discover --no-install chaos-gameday`.

Every module of `chaos.faults` that exports activities through `__all__` is listed as
actions, every such module of `chaos.probes` as probes, with their arguments, so the list
cannot drift from what experiments can call.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from importlib.metadata import version
from typing import Any

from chaoslib.discovery import discover_actions, discover_probes, initialize_discovery_result
from chaoslib.discovery.discover import portable_type_name

DISTRIBUTION = "chaos-gameday"
ACTION_PACKAGE = "chaos.faults"
PROBE_PACKAGE = "chaos.probes"


def activity_modules(package_name: str) -> list[str]:
    """Modules of `package_name` that export activities (those with `__all__`)."""
    package = importlib.import_module(package_name)
    names = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        name = f"{package_name}.{info.name}"
        if not info.ispkg and getattr(importlib.import_module(name), "__all__", None):
            names.append(name)
    return names


def _with_real_types(activity: dict[str, Any]) -> dict[str, Any]:
    """Our modules use postponed annotations, which the toolkit reads as strings and lists
    as `object`; name the real types instead."""
    func = getattr(importlib.import_module(activity["mod"]), activity["name"])
    parameters = inspect.signature(func, eval_str=True).parameters
    for argument in activity["arguments"]:
        annotation = parameters[argument["name"]].annotation
        if annotation is not inspect.Parameter.empty:
            argument["type"] = portable_type_name(annotation)
    return activity


def discover_activities(discover_system: bool = True) -> dict[str, Any]:
    """The discovery document: our faults as actions and our probes as probes. There is no
    system to discover: the target is named by each experiment, not found here."""
    discovery = initialize_discovery_result(DISTRIBUTION, version(DISTRIBUTION), "gameday")
    for module in activity_modules(ACTION_PACKAGE):
        discovery["activities"].extend(map(_with_real_types, discover_actions(module)))
    for module in activity_modules(PROBE_PACKAGE):
        discovery["activities"].extend(map(_with_real_types, discover_probes(module)))
    return discovery
