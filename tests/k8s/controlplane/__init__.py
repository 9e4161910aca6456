"""A real Kubernetes control plane for the test suite: build.sh builds the binaries once,
`ControlPlane` starts and stops them on loopback with our node agent in place of kubelets,
and `fixtures` offers them to tests (`control_plane`, `lab_namespace`).

    python -m tests.k8s.controlplane run    # a control plane for a developer, until Ctrl-C
"""
