"""Client-side cost of the Kubernetes faults and probes, against the test suite's HTTP
stand-in of the API (tests/k8s/k8s_standin.py) on loopback: the real kubernetes client,
kubeconfig loading, the ledger's fsyncs, and for sidecar toxics the websocket port-forward
to one embedded Toxiproxy-compatible server per pod. It does not measure a cluster.

    .venv/bin/python benchmarks/k8s.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "k8s"))

import k8s_standin  # noqa: E402

from chaos.faults import kubernetes as kf  # noqa: E402
from chaos.faults import kubernetes_network as kn  # noqa: E402
from chaos.probes import kubernetes as kp  # noqa: E402
from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient  # noqa: E402

ORDERS = "app.kubernetes.io/name=orders"
PAYMENTS = "app.kubernetes.io/name=payments"


def measure(name: str, action: Callable[[], object], rounds: int) -> None:
    action()  # warm-up: imports and pydantic model builds happen on first use
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p90 = samples[max(0, int(len(samples) * 0.9) - 1)]
    print(f"| {name} | {statistics.median(samples):.1f} | {p90:.1f} | {rounds} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds

    state = k8s_standin.ApiState()
    state.add_app("orders", 2)
    state.add_app("payments", 2)
    handler = type("BoundHandler", (k8s_standin.Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        kubeconfig = k8s_standin.write_kubeconfig(Path(tmp) / "kubeconfig", url)
        configuration = {
            "k8s_kubeconfig": str(kubeconfig),
            "k8s_namespaces": [k8s_standin.NAMESPACE],
            "gameday_ledger": str(Path(tmp) / "ledger.jsonl"),
        }
        for pod in state.app_pods("orders"):
            sidecar = stack.enter_context(EmbeddedProxyServer(host="127.0.0.1", port=0))
            with ToxiproxyClient(sidecar.url) as client:
                client.create_proxy("orders->payments", upstream="127.0.0.1:9")
            host, port = sidecar.url.removeprefix("http://").rsplit(":", 1)
            state.sidecars[pod["metadata"]["name"]] = (host, int(port))

        def partition_and_heal() -> None:
            policies = kf.partition(ORDERS, PAYMENTS, configuration=configuration)["policies"]
            kf.remove_partition(policies=policies, configuration=configuration)

        def sidecar_latency_and_undo() -> None:
            pods = list(
                kn.add_sidecar_latency("orders->payments", 100, configuration=configuration)["pods"]
            )
            kn.remove_sidecar_toxics("orders->payments", pods, configuration=configuration)

        print("| operation | median ms | p90 ms | rounds |")
        print("|---|---|---|---|")
        measure(
            "probe count_ready_pods",
            lambda: kp.count_ready_pods(ORDERS, configuration=configuration),
            rounds,
        )
        measure(
            "scale_deployment + restore_scale",
            lambda: (
                kf.scale_deployment("orders", 3, configuration=configuration),
                kf.restore_scale("orders", 2, configuration=configuration),
            ),
            rounds,
        )
        measure(
            "kill_pods dry run",
            lambda: kf.kill_pods(PAYMENTS, dry_run=True, configuration=configuration),
            rounds,
        )
        measure("partition + remove_partition", partition_and_heal, rounds)
        measure(
            "add_sidecar_latency on 2 pods + undo", sidecar_latency_and_undo, max(3, rounds // 2)
        )
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
