"""The torture cases live with the full suite in benchmarks/ (run by hand); CI runs one
case of each kind from here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from torture_cases import Case, running_mesh  # noqa: E402
from torture_census import wait_mesh_ready  # noqa: E402


@pytest.fixture(scope="module")
def torture_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("torture")


@pytest.fixture(scope="module")
def torture_mesh(torture_work: Path) -> Iterator[Path]:
    """One mesh for every case of the module; yields its state file."""
    with running_mesh(torture_work) as mesh:
        yield mesh.state_file


@pytest.fixture
def case(torture_work: Path, torture_mesh: Path, request: pytest.FixtureRequest) -> Iterator[Case]:
    """A case folder on the shared mesh; every process the case started is reaped."""
    assert wait_mesh_ready(torture_mesh), "the mesh did not come back after the last case"
    index = (
        len(list((torture_work / "cases").glob("*"))) if (torture_work / "cases").exists() else 0
    )
    case = Case(torture_work, index, request.node.name.split("[")[0], torture_mesh)
    try:
        yield case
    finally:
        case.close()
