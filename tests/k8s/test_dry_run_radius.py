"""A dry run's blast radius on a real control plane: selectors and pods by name, and only
reads reach the API server."""

from __future__ import annotations

import time
from typing import Any

from chaos.engine.k8s_blast_radius import dry_run_resolver
from chaos.experiment.models import Activity
from chaos.safety.dry_run import BlastRadius

ORDERS = "app.kubernetes.io/name=orders"
PAYMENTS = "app.kubernetes.io/name=payments"


def _action(func: str, **arguments: Any) -> Activity:
    return Activity.model_validate(
        {
            "type": "action",
            "name": func,
            "provider": {
                "type": "python",
                "module": "chaos.faults.kubernetes",
                "func": func,
                "arguments": arguments,
            },
        }
    )


def test_the_partitions_radius_names_its_selectors_and_pods(
    lab_namespace: Any, control_plane: Any
) -> None:
    lab = lab_namespace
    lab.deploy("orders", 2)
    lab.deploy("payments", 1)
    orders, payments = lab.pod_names("orders"), lab.pod_names("payments")
    resolve = dry_run_resolver(lab.configuration())
    radius = BlastRadius()
    since = time.time() - 1

    target, lines = resolve(
        _action("partition", from_selector=ORDERS, to_selector=PAYMENTS, namespace=lab.name),
        radius,
    )

    assert target == f"{ORDERS} x {PAYMENTS}"
    assert radius.replicas == {
        ORDERS: f"2 pod(s): {', '.join(orders)}",
        PAYMENTS: f"1 pod(s): {payments[0]}",
    }
    assert sorted(radius.services) == ["orders", "payments"]
    assert f"from {ORDERS}: {', '.join(orders)}" in lines
    assert f"to {PAYMENTS}: {payments[0]}" in lines
    assert sum(line.startswith(f"create {lab.name}/networkpolicy/") for line in lines) == 2
    user = f"system:serviceaccount:{lab.name}:gameday-runner"
    verbs = {e["verb"] for e in control_plane.audit_events(since) if e["user"]["username"] == user}
    assert verbs == {"list"}
    assert lab.plane.admin.networking.list_namespaced_network_policy(lab.name).items == []
