"""`gameday validate` applies the Kubernetes checks of `gameday run` to a file whose own
target is k8s (provider mapping, blast radius, allow-list, gateway URL), without
contacting the cluster."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from tests.k8s.controlplane.lab import LabNamespace

BUNDLED = Path(__file__).parents[2] / "experiments" / "k8s-payments-latency.yaml"
FREEZE = """\
  - type: action
    name: freeze-payments
    provider:
      type: python
      module: chaos.faults.process
      func: pause_replicas
      arguments: {service: payments, count: 1}
rollbacks:"""


def _variant(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = BUNDLED.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "variant.yaml"
    path.write_text(text)
    return path


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _validate(*args: str):
    result = CliRunner().invoke(app, ["validate", *args])
    assert "Traceback" not in result.output, result.output
    return result


def test_the_bundled_k8s_experiment_validates_without_calling_the_cluster(
    lab_namespace: LabNamespace, tmp_path: Path
) -> None:
    result = _validate(str(BUNDLED))
    assert result.exit_code == 0, result.output
    assert f"✓ {BUNDLED}" in result.output

    # The same file aimed at a live API server: still valid, and not one request made.
    pointed = _variant(tmp_path, ("      context: kind-gameday\n", ""))
    since = time.time()
    result = _validate(str(pointed), "--var", f"k8s_kubeconfig={lab_namespace.kubeconfig}")
    assert result.exit_code == 0, result.output
    assert lab_namespace.runner_requests(since) == []


def test_system_namespace_and_a_provider_without_equivalent_are_located(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        ("k8s_namespaces: [gameday-lab]", "k8s_namespaces: [kube-system]"),
        ("rollbacks:", FREEZE),
    )
    result = _validate(str(path))
    assert result.exit_code == 2, result.output
    freeze = _line_of(path, "name: freeze-payments") + 1  # its `provider:` line
    assert (
        f"{path}:{freeze}: method[2].provider: activity 'freeze-payments': "
        "chaos.faults.process.pause_replicas has no Kubernetes equivalent"
    ) in result.output
    # Both the fault and its rollback would act in kube-system once mapped.
    for field in ("method[0]", "rollbacks[0]"):
        assert f"{field}.provider.arguments.namespace: namespace 'kube-system'" in result.output
    assert "is refused" in result.output


@pytest.mark.parametrize(
    ("replacement", "field", "message"),
    [
        (
            ("  k8s_namespaces: [gameday-lab]\n", ""),
            "method[0].provider.arguments.namespace",
            "no namespaces are allow-listed",
        ),
        (
            ('  k8s_gateway_url: "http://127.0.0.1:8080"\n', ""),
            "extensions[0].load.host",
            "set load.host or configuration 'k8s_gateway_url'",
        ),
    ],
    ids=["no-allow-list", "no-gateway"],
)
def test_missing_cluster_settings_are_refused(
    tmp_path: Path, replacement: tuple[str, str], field: str, message: str
) -> None:
    path = _variant(tmp_path, replacement)
    result = _validate(str(path))
    assert result.exit_code == 2, result.output
    line = next(text for text in result.output.splitlines() if f" {field}: " in text)
    assert line.strip().startswith(f"{path}:") and message in line, line


def test_the_kubernetes_rules_apply_only_to_a_kubernetes_target(tmp_path: Path) -> None:
    # Pausing replicas is fine on the local mesh: the same broken file targeting it passes.
    path = _variant(
        tmp_path,
        ("      kind: k8s\n      context: kind-gameday\n", "      kind: local\n"),
        ("rollbacks:", FREEZE),
    )
    assert "kind: k8s" not in path.read_text()
    result = _validate(str(path))
    assert result.exit_code == 0, result.output


ABORT_CHARGES = """\
  - type: action
    name: abort-charges
    provider:
      type: python
      module: chaos.faults.http
      func: abort_requests
      arguments: {service: payments, path: "/charge*", toxicity: 0.5}
rollbacks:"""


@pytest.mark.parametrize(
    ("sidecar", "exit_code"), [(None, 2), ("toxiproxy", 2), ("gameday", 0)], ids=str
)
def test_an_http_fault_validates_only_with_sidecars_that_have_http_toxics(
    tmp_path: Path, sidecar: str | None, exit_code: int
) -> None:
    setting = f"  k8s_sidecar: {sidecar}\n" if sidecar else ""
    path = _variant(
        tmp_path,
        ("rollbacks:", ABORT_CHARGES),
        ("  k8s_namespaces: [gameday-lab]\n", f"  k8s_namespaces: [gameday-lab]\n{setting}"),
    )
    result = _validate(str(path))
    assert result.exit_code == exit_code, result.output
    if exit_code:
        line = _line_of(path, "name: abort-charges") + 1  # its `provider:` line
        assert f"{path}:{line}: method[2].provider: activity 'abort-charges'" in result.output
        assert "ghcr.io/shopify/toxiproxy" in result.output
