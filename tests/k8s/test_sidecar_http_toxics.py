"""HTTP faults in the pods' sidecars through the real API server (chaos.faults.kubernetes_http).
The node agent's sidecars run our fault proxy in-process, as the k8s/with-gameday-sidecar
pods run `gameday proxy serve`: the HTTP toxics go in through the same port-forward and
Toxiproxy API as every sidecar toxic, and the ledger's undo takes them out."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.faults import kubernetes_http
from chaos.safety.ledger import Ledger, undo_outstanding
from tests.k8s.controlplane.lab import LabNamespace
from tests.k8s.test_sidecar_toxics import configuration, toxics


@pytest.fixture
def sidecars(lab_namespace: LabNamespace) -> LabNamespace:
    """Two orders pods (callers of payments) and a gateway pod (not one)."""
    lab_namespace.deploy("orders", 2, sidecar=True)
    lab_namespace.deploy("gateway", 1, sidecar=True)
    return lab_namespace


def test_an_http_abort_reaches_every_caller_sidecar_and_the_undo_removes_it(
    sidecars: LabNamespace, tmp_path: Path
) -> None:
    lab = sidecars
    config = configuration(lab, tmp_path)
    result = kubernetes_http.abort_requests(
        502,
        service="payments",
        method="post",
        path="/charge*",
        toxicity=0.5,
        namespace=lab.name,
        configuration=config,
    )
    orders_pods = lab.pod_names("orders")
    assert sorted(result["pods"]) == orders_pods
    for pod in orders_pods:
        (abort,) = toxics(lab, pod)["orders->payments"]
        assert abort[0] == "gameday-http_abort-downstream"
        assert {k: abort[1][k] for k in ("http_status", "method", "path")} == {
            "http_status": 502,
            "method": "POST",
            "path": "/charge*",
        }
    (gateway_pod,) = lab.pod_names("gateway")
    assert all(t == [] for t in toxics(lab, gateway_pod).values())

    (entry,) = Ledger(config["gameday_ledger"]).entries()
    # The report's fault row names the matched route.
    assert entry.kind == "k8s.toxic.http_abort" and entry.target.endswith("POST /charge*")
    settled, failures = undo_outstanding(Ledger(config["gameday_ledger"]))
    assert failures == [] and [e.status for e in settled] == ["undone"]
    for pod in orders_pods:
        assert toxics(lab, pod)["orders->payments"] == []


def test_a_dry_run_names_the_sidecars_and_changes_nothing(
    sidecars: LabNamespace, tmp_path: Path
) -> None:
    lab = sidecars
    result = kubernetes_http.delay_requests(
        300,
        edge="orders->payments",
        path="/charge*",
        namespace=lab.name,
        dry_run=True,
        configuration=configuration(lab, tmp_path),
    )
    assert result["dry_run"] is True
    assert result["would_change"] == [
        f"pod/{pod} sidecar orders->payments" for pod in lab.pod_names("orders")
    ]
    assert result["toxics"] == ["gameday-http_delay-upstream"]
    for pod in lab.pod_names("orders"):
        assert toxics(lab, pod)["orders->payments"] == []
