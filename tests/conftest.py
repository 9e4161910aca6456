"""Fixtures shared by every suite under tests/: the real Kubernetes control plane
(`control_plane`, `lab_namespace`; see tests/k8s/controlplane) and unreachable API
servers (`refused_kubeconfig`, `silent_kubeconfig`)."""

import signal

pytest_plugins = ["tests.k8s.controlplane.fixtures", "tests.k8s.unreachable"]


def pytest_configure() -> None:
    # A shell without job control (a CI script run in the background) starts us with
    # SIGINT ignored, and every process a test starts would inherit that: Ctrl-C tests
    # stand in for a person at a terminal, whose processes get SIGINT as KeyboardInterrupt.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
