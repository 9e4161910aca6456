"""`seconds_until_pods_ready`, the Kubernetes twin of the mesh's `seconds_until_ready`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from k8s_standin import StandIn

from chaos.probes.errors import InvalidProbeArgument, NotReady
from chaos.probes.kubernetes_recovery import seconds_until_pods_ready

PAYMENTS = "app.kubernetes.io/name=payments"


def _mark_ready(standin: StandIn) -> None:
    with standin.state.lock:
        for pod in standin.state.app_pods("payments"):
            for condition in pod["status"]["conditions"]:
                if condition["type"] in ("Ready", "ContainersReady"):
                    condition["status"] = "True"


def test_returns_the_seconds_until_every_pod_is_ready(standin: StandIn, tmp_path: Path) -> None:
    standin.state.add_app("payments", 2, ready=False)
    timer = threading.Timer(0.6, _mark_ready, args=(standin,))
    timer.start()
    try:
        seconds = seconds_until_pods_ready(
            PAYMENTS, timeout_s=10, poll_s=0.1, configuration=standin.configuration(tmp_path)
        )
    finally:
        timer.cancel()
    assert 0.5 <= seconds < 10


def test_not_ready_in_time_raises_not_ready(standin: StandIn, tmp_path: Path) -> None:
    standin.state.add_app("payments", 2, ready=False)
    started = time.monotonic()
    with pytest.raises(NotReady, match="0 of 2 pods ready"):
        seconds_until_pods_ready(
            PAYMENTS, timeout_s=0.5, poll_s=0.1, configuration=standin.configuration(tmp_path)
        )
    assert time.monotonic() - started >= 0.5


def test_min_ready_is_enough_where_all_would_wait(standin: StandIn, tmp_path: Path) -> None:
    standin.state.add_app("payments", 2)
    (_, lagging) = standin.state.app_pods("payments")
    for condition in lagging["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition["status"] = "False"
    configuration = standin.configuration(tmp_path)
    assert seconds_until_pods_ready(PAYMENTS, min_ready=1, configuration=configuration) < 5
    with pytest.raises(NotReady, match="1 of 2 pods ready"):
        seconds_until_pods_ready(PAYMENTS, timeout_s=0.3, poll_s=0.1, configuration=configuration)
    with pytest.raises(InvalidProbeArgument):
        seconds_until_pods_ready(PAYMENTS, min_ready=0, configuration=configuration)
