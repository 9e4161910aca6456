"""Blast-radius rules for faults on a Kubernetes cluster.

A fault may only touch a namespace that the experiment allow-lists in its configuration
(`k8s_namespaces: [gameday-lab]`). The cluster's own namespaces (kube-system, kube-public,
kube-node-lease) are refused even when listed, unless the experiment also sets
`k8s_allow_system_namespaces: true`. A label selector must name something: an empty
selector, or one made only of negations (`app!=db` matches everything else), is refused.

Dry run (`dry_run=True` on a fault, or configuration `gameday_dry_run: true`): the fault
only reads, and returns the pods and objects it would touch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

NAMESPACES_KEY = "k8s_namespaces"
ALLOW_SYSTEM_KEY = "k8s_allow_system_namespaces"
DRY_RUN_KEY = "gameday_dry_run"
SYSTEM_NAMESPACES: frozenset[str] = frozenset({"kube-system", "kube-public", "kube-node-lease"})

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EXISTS = re.compile(rf"^(?P<neg>!?)\s*(?P<key>{_NAME})$")
_EQUALITY = re.compile(rf"^(?P<key>{_NAME})\s*(?P<op>==|!=|=)\s*(?P<value>{_VALUE})$")
_SET = re.compile(rf"^(?P<key>{_NAME})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


_OPPOSITE = {"In": "NotIn", "NotIn": "In", "Exists": "DoesNotExist", "DoesNotExist": "Exists"}


class BlastRadiusRefused(Exception):
    """A fault would reach outside what the experiment allows; nothing was touched."""


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _split_requirements(selector: str) -> list[str]:
    """Split on the commas that separate requirements (not those inside `in (a,b)`)."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


class Requirement(BaseModel):
    """One requirement of a label selector, in the terms of a LabelSelector object."""

    model_config = ConfigDict(frozen=True)

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    @property
    def positive(self) -> bool:
        return self.operator in ("In", "Exists")

    def negated(self) -> Requirement:
        """The requirement a pod meets exactly when it fails this one."""
        return Requirement(key=self.key, operator=_OPPOSITE[self.operator], values=self.values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with these labels meets the requirement."""
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        found = labels.get(self.key)
        if self.operator == "In":
            return found in self.values
        return found not in self.values

    def as_expression(self) -> dict[str, Any]:
        expression: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.values:
            expression["values"] = list(self.values)
        return expression


def parse_selector(selector: str | Mapping[str, str] | None) -> tuple[str, list[Requirement]]:
    """The selector as a string (a mapping becomes `k=v,k2=v2`) and its requirements.

    Refuses an empty selector, a malformed one, and one that selects only by negation.
    """
    if isinstance(selector, Mapping):
        text = ",".join(f"{key}={value}" for key, value in selector.items())
    else:
        text = (selector or "").strip()
    if not text:
        raise BlastRadiusRefused(
            "an empty label selector would select every pod in the namespace; name the "
            "target, e.g. label_selector: 'app=payments'"
        )
    requirements: list[Requirement] = []
    for part in _split_requirements(text):
        if not part:
            raise BlastRadiusRefused(f"label selector {text!r} has an empty requirement")
        if match := _EQUALITY.match(part):
            operator = "NotIn" if match["op"] == "!=" else "In"
            requirements.append(
                Requirement(key=match["key"], operator=operator, values=(match["value"],))
            )
        elif match := _SET.match(part):
            values = tuple(value.strip() for value in match["values"].split(",") if value.strip())
            if not values:
                raise BlastRadiusRefused(f"label selector {text!r}: {part!r} has no values")
            operator = "In" if match["op"] == "in" else "NotIn"
            requirements.append(Requirement(key=match["key"], operator=operator, values=values))
        elif match := _EXISTS.match(part):
            operator = "DoesNotExist" if match["neg"] else "Exists"
            requirements.append(Requirement(key=match["key"], operator=operator))
        else:
            raise BlastRadiusRefused(
                f"label selector {text!r}: cannot parse {part!r} (use key=value, "
                "key!=value, key in (a,b), key notin (a,b), key or !key)"
            )
    if not any(requirement.positive for requirement in requirements):
        raise BlastRadiusRefused(
            f"label selector {text!r} only excludes pods, so it matches everything else; "
            "add a requirement that names the target (e.g. app=payments)"
        )
    return text, requirements


def normalize_selector(selector: str | Mapping[str, str] | None) -> str:
    """The checked selector as a string (see `parse_selector`)."""
    return parse_selector(selector)[0]


def label_selector_object(requirements: list[Requirement]) -> dict[str, Any]:
    """A LabelSelector (as in a NetworkPolicy's podSelector) equal to the requirements."""
    return {"matchExpressions": [requirement.as_expression() for requirement in requirements]}


class K8sScope(BaseModel):
    """What an experiment allows its Kubernetes faults to touch."""

    model_config = ConfigDict(frozen=True)

    namespaces: tuple[str, ...] = ()
    allow_system_namespaces: bool = False
    dry_run: bool = False

    @classmethod
    def from_configuration(
        cls, configuration: Mapping[str, Any] | None, dry_run: bool = False
    ) -> K8sScope:
        """The scope an experiment's configuration declares; `dry_run` (the fault's own
        argument) or configuration `gameday_dry_run` turns dry run on."""
        configuration = configuration or {}
        raw = configuration.get(NAMESPACES_KEY) or ()
        if isinstance(raw, str):
            raw = [part for part in raw.split(",")]
        if not isinstance(raw, list | tuple):
            raise BlastRadiusRefused(
                f"configuration {NAMESPACES_KEY!r} must be a list of namespace names, "
                f"not {type(raw).__name__}"
            )
        namespaces = tuple(str(name).strip() for name in raw if str(name).strip())
        return cls(
            namespaces=namespaces,
            allow_system_namespaces=_truthy(configuration.get(ALLOW_SYSTEM_KEY, False)),
            dry_run=bool(dry_run) or _truthy(configuration.get(DRY_RUN_KEY, False)),
        )

    def check_namespace(self, namespace: str | None) -> str:
        """Return the namespace if a fault may act in it; else raise `BlastRadiusRefused`."""
        name = (namespace or "").strip()
        if not name or not _NAMESPACE.match(name):
            raise BlastRadiusRefused(f"{name!r} is not a namespace name")
        if name in SYSTEM_NAMESPACES and not self.allow_system_namespaces:
            raise BlastRadiusRefused(
                f"namespace {name!r} belongs to the cluster itself and is refused; set "
                f"configuration {ALLOW_SYSTEM_KEY!r}: true (and allow-list it) to override"
            )
        if not self.namespaces:
            raise BlastRadiusRefused(
                f"no namespaces are allow-listed: add configuration {NAMESPACES_KEY!r}: "
                f"[{name}] to the experiment to let its faults act there"
            )
        if name not in self.namespaces:
            raise BlastRadiusRefused(
                f"namespace {name!r} is not in the experiment's allow-list "
                f"{NAMESPACES_KEY}={list(self.namespaces)}"
            )
        return name

    def check(self, namespace: str | None, selector: str | Mapping[str, str] | None) -> str:
        """Check a namespace and a selector together; return the normalized selector."""
        self.check_namespace(namespace)
        return normalize_selector(selector)
