"""A mesh with its real Prometheus (Debian's `prometheus` binary, installed by .ci/run),
shared by the tests of this folder and stopped after the last of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.targets.launcher import MeshHandle, load_mesh_state, start_mesh
from chaos.targets.launcher.leftovers import wait_until_settled
from tests.prometheus.scrape import require_prometheus, wait_all_up


@pytest.fixture(scope="package")
def prometheus_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshHandle]:
    """The shop with its Prometheus, every replica already scraped once."""
    require_prometheus()
    handle = start_mesh(tmp_path_factory.mktemp("prometheus-mesh"), prometheus=True)
    try:
        wait_all_up(handle)
        yield handle
    finally:
        handle.stop()


@pytest.fixture(autouse=True)
def settled(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that share the mesh leave it without faults or open breakers (a guardrail
    test opens the orders->payments breakers on purpose)."""
    yield
    if "prometheus_mesh" in request.fixturenames:
        handle: MeshHandle = request.getfixturevalue("prometheus_mesh")
        wait_until_settled(load_mesh_state(handle.state_file))
