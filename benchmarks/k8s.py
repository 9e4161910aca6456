"""Kubernetes faults against the real test control plane (tests/k8s/controlplane: kube-
apiserver, controller-manager and scheduler v1.20.2, etcd, and the node agent in place of
kubelets), as the shipped gameday-runner ServiceAccount. By hand; results in
benchmarks/README.md. Needs the binaries (tests/k8s/controlplane/build.sh).

- start: cold start of the control plane until both nodes are schedulable;
- faults: apply and undo of each fault (undo of a kill = its replacement Ready);
- kill: pod kill -> replacement Running and Ready (polled every 20 ms);
- scale: kill 50 % of a 100-pod deployment, then until all 100 are Ready again;
- partition: partition and heal between two deployments of 25 pods each (50 pods);
- apply: `kubectl apply -k k8s/` -> every deployment Available.

    .venv/bin/python benchmarks/k8s.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos.faults import kubernetes as kf  # noqa: E402
from chaos.faults import kubernetes_network as kn  # noqa: E402
from chaos.safety.ledger import Ledger, undo_outstanding  # noqa: E402
from tests.k8s.controlplane.controlplane import ControlPlane  # noqa: E402
from tests.k8s.controlplane.lab import LabNamespace, open_lab_namespace, wait_for  # noqa: E402

POLL_S = 0.02


def row(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p90 = samples[max(0, round(len(samples) * 0.9) - 1)]
    print(
        f"| {name} | {statistics.median(samples) * 1000:.0f} | {p90 * 1000:.0f} "
        f"| {samples[-1] * 1000:.0f} | {len(samples)} |",
        flush=True,
    )


def ready_count(lab: LabNamespace, app: str, exclude: set[str]) -> int:
    return sum(
        1
        for p in lab.pods(app)
        if p["metadata"]["name"] not in exclude
        and not p["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    )


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def faults(lab: LabNamespace, tmp: Path, rounds: int) -> None:
    ns = lab.name
    config = lab.configuration(gameday_ledger=str(tmp / "ledger.jsonl"))
    ledger = Ledger(config["gameday_ledger"])
    lab.deploy("payments", 3)
    lab.deploy("catalog", 2)
    lab.deploy("orders", 2, sidecar=True)
    results: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        results.setdefault(name, []).append(seconds)

    selector = "app.kubernetes.io/name=payments"
    for _ in range(rounds):
        add(
            "kill_pods (one pod) apply",
            timed(lambda: kf.kill_pods(selector, namespace=ns, configuration=config)),
        )
        add("kill_pods undo (confirm_pods_replaced)", timed(lambda: undo_outstanding(ledger)))
        add(
            "partition apply (2 NetworkPolicies)",
            timed(
                lambda: kf.partition(
                    "app.kubernetes.io/name=orders", selector, namespace=ns, configuration=config
                )
            ),
        )
        add("partition undo", timed(lambda: undo_outstanding(ledger)))
        add(
            "scale_deployment 2 -> 0 apply",
            timed(lambda: kf.scale_deployment("catalog", 0, namespace=ns, configuration=config)),
        )
        add("scale undo (restore_scale)", timed(lambda: undo_outstanding(ledger)))
        lab.wait_available("catalog", 2)
        add(
            "sidecar latency apply (2 pods, port-forward)",
            timed(
                lambda: kn.add_sidecar_latency(
                    "orders->payments", 100, namespace=ns, configuration=config
                )
            ),
        )
        add("sidecar latency undo", timed(lambda: undo_outstanding(ledger)))
    print("| fault | median ms | p90 ms | max ms | rounds |\n|---|---|---|---|---|")
    for name, samples in results.items():
        row(name, samples)


def kill_to_ready(lab: LabNamespace, tmp: Path, rounds: int) -> None:
    config = lab.configuration(gameday_ledger=str(tmp / "kill-ledger.jsonl"))
    lab.deploy("recommendations", 2)
    running, ready = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        killed = set(
            kf.kill_pods(
                "app.kubernetes.io/name=recommendations", namespace=lab.name, configuration=config
            )["killed"]
        )
        seen_running = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            fresh = [
                p
                for p in lab.pods("recommendations")
                if p["metadata"]["name"] not in killed
                and not p["metadata"].get("deletionTimestamp")
            ]
            if (
                seen_running is None
                and len(fresh) == 2
                and all(p["status"].get("phase") == "Running" for p in fresh)
            ):
                seen_running = time.perf_counter() - started
            if ready_count(lab, "recommendations", killed) == 2:
                ready.append(time.perf_counter() - started)
                running.append(seen_running or ready[-1])
                break
            time.sleep(POLL_S)
    print("| step | median ms | p90 ms | max ms | rounds |\n|---|---|---|---|---|")
    row("pod kill -> replacement Running", running)
    row("pod kill -> replacement Ready", ready)


def scale(lab: LabNamespace, tmp: Path, pods: int) -> None:
    config = lab.configuration(gameday_ledger=str(tmp / "scale-ledger.jsonl"))
    started = time.perf_counter()
    lab.deploy("inventory", pods)
    print(f"- deploy {pods} pods -> Available: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    result = kf.kill_pods(
        "app.kubernetes.io/name=inventory",
        mode="percent",
        percent=50,
        namespace=lab.name,
        configuration=config,
    )
    killed = set(result["killed"])
    print(f"- kill_pods percent 50 ({len(killed)} deletes): {time.perf_counter() - started:.2f} s")
    wait_for(lambda: ready_count(lab, "inventory", killed) == pods, 300, f"{pods} ready pods")
    print(f"- kill 50 % -> all {pods} Ready again: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    undo_outstanding(Ledger(config["gameday_ledger"]))
    print(f"- its undo (confirm_pods_replaced): {time.perf_counter() - started:.2f} s")


def partition(lab: LabNamespace, tmp: Path, rounds: int) -> None:
    config = lab.configuration(gameday_ledger=str(tmp / "partition-ledger.jsonl"))
    lab.deploy("gateway", 25)
    lab.deploy("notifications", 25)
    applied, healed, planned = [], [], []
    for _ in range(rounds):
        planned.append(
            timed(
                lambda: kf.partition(
                    "app.kubernetes.io/name=gateway",
                    "app.kubernetes.io/name=notifications",
                    namespace=lab.name,
                    dry_run=True,
                    configuration=config,
                )
            )
        )
        applied.append(
            timed(
                lambda: kf.partition(
                    "app.kubernetes.io/name=gateway",
                    "app.kubernetes.io/name=notifications",
                    namespace=lab.name,
                    configuration=config,
                )
            )
        )
        healed.append(timed(lambda: undo_outstanding(Ledger(config["gameday_ledger"]))))
    print(
        "| partition, 25 + 25 pods | median ms | p90 ms | max ms | rounds |\n|---|---|---|---|---|"
    )
    row("dry run (lists both sides' pods)", planned)
    row("apply", applied)
    row("heal (undo)", healed)


def apply_k(plane: ControlPlane) -> None:
    rendered = plane.kubectl("kustomize", str(ROOT / "k8s")).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    volumes = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"bench-{c['metadata']['name']}"},
            "spec": {
                "capacity": {"storage": c["spec"]["resources"]["requests"]["storage"]},
                "accessModes": c["spec"]["accessModes"],
                "hostPath": {"path": f"/tmp/bench-{c['metadata']['name']}"},
                "claimRef": {"namespace": "gameday-lab", "name": c["metadata"]["name"]},
            },
        }
        for c in docs
        if c["kind"] == "PersistentVolumeClaim"
    ]
    wanted = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Deployment")
    plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(volumes))
    started = time.perf_counter()
    plane.kubectl("apply", "-f", str(ROOT / "k8s" / "namespace" / "namespace.yaml"))
    plane.kubectl("apply", "-k", str(ROOT / "k8s"))
    applied = time.perf_counter() - started

    def available() -> bool:
        items = json.loads(
            plane.kubectl("get", "deployments", "-n", "gameday-lab", "-o", "json").stdout
        )["items"]
        return (
            sorted(
                d["metadata"]["name"]
                for d in items
                if any(
                    c["type"] == "Available" and c["status"] == "True"
                    for c in d["status"].get("conditions", [])
                )
            )
            == wanted
        )

    wait_for(available, 120, "every deployment Available")
    print(
        f"- kubectl apply (namespace, then -k k8s/): {applied:.1f} s; "
        f"-> all {len(wanted)} deployments Available: {time.perf_counter() - started:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pods", type=int, default=100)
    args = parser.parse_args()
    started = time.perf_counter()
    plane = ControlPlane()
    plane.start()
    print(f"- cold start -> 2 nodes schedulable: {time.perf_counter() - started:.1f} s", flush=True)
    try:
        with tempfile.TemporaryDirectory() as directory:
            tmp = Path(directory)
            for name, run in (
                ("faults", lambda lab: faults(lab, tmp, args.rounds)),
                ("kill", lambda lab: kill_to_ready(lab, tmp, args.rounds)),
                ("scale", lambda lab: scale(lab, tmp, args.pods)),
                ("partition", lambda lab: partition(lab, tmp, args.rounds)),
            ):
                with open_lab_namespace(plane, f"bench-{name}", tmp) as lab:
                    print(f"\n### {name}\n", flush=True)
                    run(lab)
            print("\n### apply\n")
            apply_k(plane)
    finally:
        plane.stop()


if __name__ == "__main__":
    main()
