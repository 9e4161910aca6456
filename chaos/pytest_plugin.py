"""pytest fixtures for resilience gates in a project's own test suite.

Registered through the `pytest11` entry point, so every suite in an environment where
chaos-gameday is installed can use them. It defines fixtures only (no hooks), and imports
the engine and the mesh launcher only when a test asks for a fixture, so a suite that
does not use them is not affected.

    def test_payments_latency_holds(run_gameday_experiment):
        result = run_gameday_experiment("experiments/payments-latency.yaml")
        assert result.verdict == "held", result.run_dir

Override `gameday_mesh_options` (session scope) in a conftest.py to change what
`start_mesh` gets, e.g. `{"replicas": {"catalog": 3}}`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaos.engine import RunResult
    from targets.launcher import MeshHandle


@pytest.fixture(scope="session")
def gameday_mesh_options() -> dict[str, Any]:
    """Keyword arguments for `targets.launcher.start_mesh` (replicas, topology, ...)."""
    return {}


@pytest.fixture(scope="session")
def gameday_mesh(
    tmp_path_factory: pytest.TempPathFactory, gameday_mesh_options: dict[str, Any]
) -> Iterator[MeshHandle]:
    """The bundled shop mesh, started once per session and stopped after the last test."""
    from targets.launcher import start_mesh

    handle = start_mesh(state_dir=tmp_path_factory.mktemp("gameday-mesh"), **gameday_mesh_options)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def run_gameday_experiment(
    gameday_mesh: MeshHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., RunResult]:
    """`run(path, **options) -> RunResult`: run an experiment against the session's mesh.

    Options are `chaos.engine.RunOptions` fields (`vars`, `var_files`, `target`,
    `runs_dir`, ...). Runs go to the test's temporary folder unless `runs_dir` is given,
    and each is appended to that folder's run history. Every run starts on a settled mesh:
    it waits until no breaker an earlier run opened is still open, and raises
    `MeshNotSettled` if an earlier test left a fault applied.
    """
    from chaos.engine import RunOptions, run_experiment
    from chaos.engine.target import MESH_STATE_ENV
    from chaos.gates import append_run
    from targets.launcher import load_mesh_state
    from targets.launcher.leftovers import wait_until_settled

    monkeypatch.setenv(MESH_STATE_ENV, str(gameday_mesh.state_file))

    def run(path: str | Path, **options: Any) -> RunResult:
        options.setdefault("runs_dir", tmp_path / "runs")
        options.setdefault("target", "mesh")
        wait_until_settled(load_mesh_state(gameday_mesh.state_file))
        result = run_experiment(Path(path), RunOptions(**options))
        if result.run_dir is not None:
            append_run(result.run_dir, path, Path(options["runs_dir"]))
        return result

    return run
