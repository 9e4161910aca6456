"""`kubectl apply -k k8s/` on the real control plane: every shipped object passes the API
server's validation and admission, and every deployment becomes Available (pods run by
the node agent; the claims bound to static PersistentVolumes, as a storage provisioner
would provide them)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import yaml

from tests.k8s.controlplane.controlplane import ControlPlane
from tests.k8s.controlplane.lab import wait_for

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "gameday-lab"


@pytest.mark.slow
def test_apply_k_brings_every_deployment_available(control_plane: ControlPlane) -> None:
    plane = control_plane
    rendered = [
        doc
        for doc in yaml.safe_load_all(plane.kubectl("kustomize", str(ROOT / "k8s")).stdout)
        if doc
    ]
    deployments = sorted(d["metadata"]["name"] for d in rendered if d["kind"] == "Deployment")
    suffix = secrets.token_hex(3)
    volumes = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{claim['metadata']['name']}-{suffix}"},
            "spec": {
                "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
                "accessModes": claim["spec"]["accessModes"],
                "hostPath": {"path": f"/tmp/{claim['metadata']['name']}-{suffix}"},
                "claimRef": {"namespace": NAMESPACE, "name": claim["metadata"]["name"]},
            },
        }
        for claim in rendered
        if claim["kind"] == "PersistentVolumeClaim"
    ]
    assert deployments and volumes
    volumes_text = yaml.safe_dump_all(volumes)
    try:
        # The namespace first: objects in a namespace that does not exist yet are refused.
        plane.kubectl("apply", "-f", str(ROOT / "k8s" / "namespace" / "namespace.yaml"))
        plane.kubectl("apply", "-f", "-", input=volumes_text)
        plane.kubectl("apply", "-k", str(ROOT / "k8s"))

        def available() -> list[str] | None:
            listing = json.loads(
                plane.kubectl("get", "deployments", "-n", NAMESPACE, "-o", "json").stdout
            )["items"]
            ready = sorted(
                d["metadata"]["name"]
                for d in listing
                if any(
                    c["type"] == "Available" and c["status"] == "True"
                    for c in d.get("status", {}).get("conditions", [])
                )
            )
            return ready if ready == deployments else None

        assert wait_for(available, 120, f"deployments {deployments} Available") == deployments
    finally:
        plane.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        plane.kubectl("delete", "-f", "-", "--wait=false", input=volumes_text, check=False)
