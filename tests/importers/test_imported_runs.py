"""Imported experiments run for real (slow): a LitmusChaos pod-delete against the test
control plane as the shipped gameday-runner, a Chaos Mesh network delay against the local
mesh under load."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.engine import RunOptions, run_experiment
from chaos.load import StreamReader

pytestmark = pytest.mark.slow

MANIFESTS = Path(__file__).parent / "manifests"
DELAY_MS = 300
CHAOS_MESH_DELAY = f"""\
apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata:
  name: delay-orders-to-payments
spec:
  action: delay
  mode: all
  selector:
    namespaces: [default]
    labelSelectors: {{app: orders}}
  delay: {{latency: {DELAY_MS}ms, jitter: 0ms}}
  direction: to
  target:
    mode: all
    selector:
      labelSelectors: {{app: payments}}
  duration: 8s
"""


def _import(manifest: Path, out: Path, target: str) -> Path:
    result = CliRunner().invoke(app, ["import", str(manifest), "-o", str(out), "--target", target])
    assert result.exit_code == 0, result.output
    return out


def _events(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run_dir / "timeline.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def _ledger(run_dir: Path) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for line in (run_dir / "ledger.jsonl").read_text().splitlines():
        entry = json.loads(line)
        latest[entry["id"]] = entry
    return latest


def _ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_an_imported_litmus_pod_delete_runs_against_the_control_plane(
    lab_namespace: Any, tmp_path: Path
) -> None:
    lab = lab_namespace
    # Three replicas: two kills cannot leave the probe without a ready pod, however slowly
    # a replacement becomes ready.
    lab.deploy("catalog", 3)
    before = set(lab.pod_names("catalog"))
    manifest = tmp_path / "engine.yaml"
    text = (MANIFESTS / "litmus-pod-delete.yaml").read_text().replace("gameday-lab", lab.name)
    # Two kills three seconds apart: TOTAL_CHAOS_DURATION / CHAOS_INTERVAL.
    text = text.replace('value: "20"', 'value: "6"').replace('value: "10"', 'value: "3"')
    manifest.write_text(text)
    experiment = _import(manifest, tmp_path / "imported.yaml", "k8s")
    since = time.time()

    result = run_experiment(
        experiment,
        RunOptions(vars={"k8s_kubeconfig": str(lab.kubeconfig)}, runs_dir=tmp_path / "runs"),
    )

    assert (result.verdict, result.exit_code) == ("held", 0), result.reason
    deletes = [
        e["objectRef"]["name"]
        for e in lab.runner_requests(since)
        if e["verb"] == "delete" and e["objectRef"]["resource"] == "pods"
    ]
    assert len(set(deletes)) == 2 and deletes[0] in before
    # Every kill's undo waited for the ReplicaSet's replacement: the ledger says undone.
    entries = _ledger(result.run_dir)
    assert [e["kind"] for e in entries.values()] == ["k8s.kill_pods"] * 2
    assert {e["status"] for e in entries.values()} == {"undone"}
    pods = [p for p in lab.pods("catalog") if not p["metadata"].get("deletionTimestamp")]
    assert len(pods) == 3 and all(_ready(p) for p in pods)
    assert not {p["metadata"]["name"] for p in pods} & set(deletes)
    checks = _events(result.run_dir, "check")
    assert checks and all(c["ok"] for c in checks)
    assert {c["probe"] for c in checks} == {"catalog-pods-present"}


def test_an_imported_chaos_mesh_delay_slows_checkout_on_the_local_mesh(
    run_gameday_experiment: Any, tmp_path: Path
) -> None:
    manifest = tmp_path / "delay.yaml"
    manifest.write_text(CHAOS_MESH_DELAY)
    experiment = _import(manifest, tmp_path / "imported.yaml", "mesh")

    result = run_gameday_experiment(experiment)

    assert (result.verdict, result.exit_code) == ("held", 0), result.reason
    faults = _events(result.run_dir, "fault")
    starts = [e for e in faults if e["edge"] == "start"]
    ends = [e for e in faults if e["edge"] == "end"]
    assert len(starts) == len(ends) == 1
    assert "orders->payments" in starts[0]["target"]
    start, end = starts[0]["ts"], ends[0]["ts"]
    assert 8 <= end - start < 30  # the pause of `duration: 8s`, then the lift
    reader = StreamReader(result.run_dir / "load")
    during = reader.window(start, end, endpoint="POST /checkout", started_from=start)
    assert during.requests > 0
    # Every checkout waits for payments' answer at least once through the delayed edge.
    assert during.p50 is not None and during.p50 >= DELAY_MS
    last = max(e["ts"] for e in _events(result.run_dir, "phase"))
    after = reader.window(end + 1, last, endpoint="POST /checkout", started_from=end + 1)
    assert after.requests > 0 and after.p50 is not None and after.p50 < DELAY_MS
    assert {e["status"] for e in _ledger(result.run_dir).values()} == {"undone"}
