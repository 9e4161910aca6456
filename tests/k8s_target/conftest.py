"""Fixtures of the Kubernetes target tests: a shop in a lab namespace of the real control
plane (control_plane, lab_namespace and the unreachable servers come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.k8s.controlplane.lab import LabNamespace


@pytest.fixture
def shop(lab_namespace: LabNamespace) -> LabNamespace:
    """catalog (2 pods), orders (2) and gateway (1), each pod with its Toxiproxy sidecar,
    as in k8s/shop."""
    lab_namespace.deploy("catalog", 2, sidecar=True)
    lab_namespace.deploy("orders", 2, sidecar=True)
    lab_namespace.deploy("gateway", 1, sidecar=True)
    return lab_namespace
