"""HTTP faults on a Kubernetes target: mapped into sidecars that run `gameday proxy serve`
(configuration `k8s_sidecar: gameday`), refused by validation, naming the sidecar, when the
cluster runs the official Toxiproxy (the default)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.engine.k8s_target import EQUIVALENTS, Equivalent, adapt_experiment
from chaos.experiment import ExperimentError, Target, load_experiment
from chaos.faults import http as http_faults
from chaos.faults import kubernetes_http
from chaos.faults.errors import InvalidFaultArgument


def _params(func: Any) -> set[str]:
    return set(inspect.signature(func).parameters)


@pytest.mark.parametrize("func", http_faults.__all__)
def test_each_http_fault_has_a_sidecar_namesake_accepting_every_mesh_argument(func: str) -> None:
    found = EQUIVALENTS[("chaos.faults.http", func)]
    assert isinstance(found, Equivalent)
    assert (found.module, found.func) == ("chaos.faults.kubernetes_http", func)
    mesh = _params(getattr(http_faults, func))
    assert mesh <= _params(getattr(kubernetes_http, func))


def _experiment(tmp_path: Path, module: str, **configuration: Any) -> Path:
    document = {
        "title": "http on k8s",
        "description": "an HTTP fault on a cluster",
        "extensions": [{"name": "gameday", "load": False}],
        "configuration": {"k8s_namespaces": ["gameday-lab"], **configuration},
        "method": [
            {
                "type": "action",
                "name": "abort-charges",
                "provider": {
                    "type": "python",
                    "module": module,
                    "func": "abort_requests",
                    "arguments": {"service": "payments", "path": "/charge*", "toxicity": 0.5},
                },
            }
        ],
    }
    path = tmp_path / "http-k8s.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _issues(path: Path) -> list[Any]:
    with pytest.raises(ExperimentError) as caught:
        adapt_experiment(load_experiment(path), Target(kind="k8s"))
    return caught.value.issues


def test_with_gameday_sidecars_an_http_fault_maps_into_them(tmp_path: Path) -> None:
    path = _experiment(tmp_path, "chaos.faults.http", k8s_sidecar="gameday")
    data = adapt_experiment(load_experiment(path), Target(kind="k8s")).data
    provider = data["method"][0]["provider"]
    assert (provider["module"], provider["func"]) == (
        "chaos.faults.kubernetes_http",
        "abort_requests",
    )
    assert provider["arguments"] == {
        "path": "/charge*",
        "toxicity": 0.5,
        "edge": "*->payments",
        "namespace": "gameday-lab",
    }


@pytest.mark.parametrize("module", ["chaos.faults.http", "chaos.faults.kubernetes_http"])
def test_with_the_official_toxiproxy_validation_refuses_naming_the_sidecar(
    tmp_path: Path, module: str
) -> None:
    (issue,) = _issues(_experiment(tmp_path, module))
    assert issue.field == "method[0].provider" and issue.line is not None
    assert "'abort-charges'" in issue.message
    assert "ghcr.io/shopify/toxiproxy" in issue.message
    assert "k8s_sidecar: toxiproxy" in issue.message
    assert "k8s/with-gameday-sidecar" in issue.message


def test_an_unknown_sidecar_is_a_located_error(tmp_path: Path) -> None:
    issues = _issues(_experiment(tmp_path, "chaos.faults.http", k8s_sidecar="envoy"))
    assert issues[0].field == "configuration.k8s_sidecar"
    assert "toxiproxy, gameday" in issues[0].message and "'envoy'" in issues[0].message


@pytest.mark.parametrize(
    ("func", "arguments", "message"),
    [
        ("delay_requests", {"latency_ms": -5}, "latency_ms must be >= 0"),
        ("delay_requests", {"latency_ms": 5, "jitter_ms": -1}, "jitter_ms must be >= 0"),
        ("fail_first_requests", {"count": 0}, "count must be >= 1"),
        ("abort_requests", {"http_status": 99}, "http_status must be 200-599"),
        ("reset_responses", {"path": "charge"}, "path is a glob"),
    ],
)
def test_the_sidecar_faults_check_their_arguments_as_the_mesh_ones_do(
    func: str, arguments: dict[str, Any], message: str
) -> None:
    # Refused before any call to a cluster (this configuration names none that exists).
    configuration = {"k8s_kubeconfig": "/nonexistent/kubeconfig", "k8s_namespaces": ["gameday-lab"]}
    for module in (http_faults, kubernetes_http):
        with pytest.raises(InvalidFaultArgument, match=message):
            getattr(module, func)(edge="orders->payments", **arguments, configuration=configuration)
