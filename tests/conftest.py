"""Fixtures shared by every suite under tests/: the real Kubernetes control plane
(`control_plane`, `lab_namespace`; see tests/k8s/controlplane) and unreachable API
servers (`refused_kubeconfig`, `silent_kubeconfig`)."""

pytest_plugins = ["tests.k8s.controlplane.fixtures", "tests.k8s.unreachable"]
