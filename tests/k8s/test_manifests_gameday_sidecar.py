"""k8s/with-gameday-sidecar: the lab of k8s/ with the shop image's `gameday proxy serve` in
every sidecar. Rendered offline with kubectl's kustomize and validated like k8s/; the
sidecar's command line, as rendered, is run here against the pod's ConfigMap."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from chaos.proxy import ToxiproxyClient
from chaos.targets.lab import IMAGE
from tests.k8s.test_manifests import SCHEMA_VERSION, SHOP, render, restricted_violations
from tests.proxy.serving import proxy_servers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render("k8s")


@pytest.fixture(scope="module")
def swapped() -> list[dict[str, Any]]:
    return render("k8s/with-gameday-sidecar")


def _key(doc: dict) -> str:
    return f"{doc['kind']}/{doc['metadata'].get('namespace', '')}/{doc['metadata']['name']}"


def _sidecar(doc: dict) -> dict:
    (container,) = [
        c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == "toxiproxy"
    ]
    return container


def test_the_overlay_changes_only_the_shop_sidecars(base: list[dict], swapped: list[dict]) -> None:
    before = {_key(doc): doc for doc in base}
    after = {_key(doc): doc for doc in swapped}
    assert list(after) == list(before)
    changed = sorted(key for key in after if after[key] != before[key])
    assert changed == sorted(f"Deployment/gameday-lab/{service}" for service in SHOP)
    for key in changed:
        old, new = copy.deepcopy(before[key]), copy.deepcopy(after[key])
        for doc in (old, new):
            doc["spec"]["template"]["spec"]["containers"] = [
                c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] != "toxiproxy"
            ]
        assert new == old, key
        # Same port, probes and ConfigMap: the Toxiproxy API is where the faults look for it.
        old_sidecar, new_sidecar = _sidecar(before[key]), _sidecar(after[key])
        for field in ("ports", "readinessProbe", "livenessProbe", "volumeMounts"):
            assert new_sidecar[field] == old_sidecar[field], (key, field)


def test_every_overlay_object_validates_and_passes_pod_security_restricted(
    swapped: list[dict],
) -> None:
    for doc in swapped:
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)
        if doc["kind"] == "Deployment":
            assert restricted_violations(doc["spec"]["template"]["spec"]) == [], _key(doc)


def test_the_rendered_sidecar_command_serves_the_configmap_and_takes_http_toxics(
    swapped: list[dict], tmp_path: Path
) -> None:
    orders = next(
        d for d in swapped if d["kind"] == "Deployment" and d["metadata"]["name"] == "orders"
    )
    sidecar = _sidecar(orders)
    assert sidecar["image"] == IMAGE
    argv = [*sidecar["command"], *sidecar["args"]]
    assert argv[:3] == ["gameday", "proxy", "serve"]
    api_port = sidecar["ports"][0]["containerPort"]
    assert f"--port={api_port}" in argv
    mount = next(m["mountPath"] for m in sidecar["volumeMounts"] if m["name"] == "toxiproxy-config")
    assert f"--config={mount}/toxiproxy.json" in argv
    config_map = next(
        d
        for d in swapped
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("toxiproxy-orders")
    )
    proxies = json.loads(config_map["data"]["toxiproxy.json"])
    # Here: loopback and ephemeral ports only; everything else as rendered.
    for proxy in proxies:
        proxy["listen"] = "127.0.0.1:0"
    (tmp_path / "toxiproxy.json").write_text(json.dumps(proxies))
    local = {
        f"--port={api_port}": "--port=0",
        "--host=0.0.0.0": "--host=127.0.0.1",
        f"--config={mount}/toxiproxy.json": f"--config={tmp_path / 'toxiproxy.json'}",
    }
    with proxy_servers() as serve:
        _, url = serve(*[local.get(arg, arg) for arg in argv[3:]])
        with ToxiproxyClient(url, timeout=5.0) as client:
            assert sorted(client.proxies()) == sorted(p["name"] for p in proxies)
            client.add_toxic(
                "orders->payments",
                "http_abort",
                attributes={"http_status": 503, "path": "/charge*"},
            )
            (toxic,) = client.proxies()["orders->payments"].toxics
            assert (toxic.type, toxic.attributes["http_status"]) == ("http_abort", 503)
