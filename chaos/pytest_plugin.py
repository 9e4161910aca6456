"""pytest plugin for resilience gates in a project's own test suite.

Registered through the `pytest11` entry point, so every suite in an environment where
chaos-gameday is installed can use it. It imports the engine and the mesh launcher only
when a test uses them, so a suite that does not is not affected.

A marked test runs its experiment before its body and fails unless the verdict is the
expected one (`held` by default); the `gameday_result` fixture gives the `RunResult`:

    @pytest.mark.gameday("experiments/payments-latency.yaml", expect="held")
    def test_payments_latency_holds(gameday_result):
        assert gameday_result.run_dir is not None

Or call the fixture yourself:

    def test_payments_latency_holds(run_gameday_experiment):
        result = run_gameday_experiment("experiments/payments-latency.yaml")
        assert result.verdict == "held", result.run_dir

Experiments whose target is `local` or `mesh` run against one bundled shop mesh started
for the session; `k8s` and `none` targets never start it. Options (command line, or ini
keys in pytest.ini / pyproject.toml's `[tool.pytest.ini_options]`):

- `--gameday-runs-dir` / `gameday_runs_dir`: where run folders go (default: each test's
  temporary folder);
- `--gameday-replicas` / `gameday_replicas`: the session mesh's replicas, `catalog=3`
  (repeatable; ini: one per line);
- `--gameday-topology` / `gameday_topology`: the session mesh's topology file.

Override `gameday_mesh_options` (session scope) in a conftest.py for anything else
`start_mesh` takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaos.engine import RunResult
    from chaos.targets.launcher import MeshHandle

MARKER = "gameday"
MESH_TARGETS = ("local", "mesh")
VERDICTS = ("held", "deviated", "aborted", "could_not_run")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gameday", "chaos-gameday experiments")
    group.addoption(
        "--gameday-runs-dir",
        dest="gameday_runs_dir",
        help="Where run folders go (default: each test's temporary folder).",
    )
    group.addoption(
        "--gameday-replicas",
        dest="gameday_replicas",
        action="append",
        metavar="SERVICE=N",
        help="Replicas of a service in the session's mesh (repeatable).",
    )
    group.addoption(
        "--gameday-topology",
        dest="gameday_topology",
        metavar="FILE",
        help="Topology file of the session's mesh.",
    )
    parser.addini("gameday_runs_dir", "Where run folders go.", type="paths", default=[])
    parser.addini("gameday_replicas", "SERVICE=N, one per line.", type="linelist", default=[])
    parser.addini("gameday_topology", "Topology file of the session's mesh.", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(experiment, expect='held', **options): run the experiment before the test "
        "and fail unless its verdict is `expect`; options are chaos.engine.RunOptions fields. "
        "The result is the `gameday_result` fixture.",
    )


@pytest.fixture(autouse=True)
def _gameday_marked(request: pytest.FixtureRequest) -> None:
    """A marked test runs its experiment before its body, whether or not it asks for the
    result."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("gameday_result")


def _replicas(lines: list[str]) -> dict[str, int]:
    replicas = {}
    for line in lines:
        service, sep, count = line.partition("=")
        if not sep or not count.strip().isdigit():
            raise pytest.UsageError(f"gameday replicas: {line!r} is not SERVICE=N, e.g. catalog=3")
        replicas[service.strip()] = int(count)
    return replicas


@pytest.fixture(scope="session")
def gameday_mesh_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Keyword arguments for `chaos.targets.launcher.start_mesh`, from the gameday options."""
    options: dict[str, Any] = {}
    replicas = pytestconfig.getoption("gameday_replicas") or pytestconfig.getini("gameday_replicas")
    if replicas:
        options["replicas"] = _replicas(replicas)
    topology = pytestconfig.getoption("gameday_topology") or pytestconfig.getini("gameday_topology")
    if topology:
        options["topology"] = Path(topology)
    return options


@pytest.fixture(scope="session")
def gameday_mesh(
    tmp_path_factory: pytest.TempPathFactory, gameday_mesh_options: dict[str, Any]
) -> Iterator[MeshHandle]:
    """The bundled shop mesh, started once per session and stopped after the last test."""
    from chaos.targets.launcher import start_mesh

    handle = start_mesh(state_dir=tmp_path_factory.mktemp("gameday-mesh"), **gameday_mesh_options)
    try:
        yield handle
    finally:
        handle.stop()


def _runs_dir(config: pytest.Config, tmp_path: Path) -> Path:
    given = config.getoption("gameday_runs_dir")
    if given:
        return Path(given)
    from_ini = config.getini("gameday_runs_dir")
    return Path(from_ini[0]) if from_ini else tmp_path / "runs"


@pytest.fixture
def run_gameday_experiment(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., RunResult]:
    """`run(path, **options) -> RunResult`: run an experiment.

    Options are `chaos.engine.RunOptions` fields (`vars`, `var_files`, `target`,
    `runs_dir`, ...). Runs go to the gameday runs folder option, else the test's temporary
    folder, and each is appended to that folder's run history. A `local` or `mesh` target
    runs against the session's mesh, and every such run starts on a settled mesh: it waits
    until no breaker an earlier run opened is still open, and raises `MeshNotSettled` if an
    earlier test left a fault applied. A `k8s` or `none` target runs as it is declared.
    """
    from chaos.engine import RunOptions, run_experiment
    from chaos.engine.preparation import load_for_target
    from chaos.engine.target import MESH_STATE_ENV
    from chaos.gates import append_run

    def run(path: str | Path, **options: Any) -> RunResult:
        options.setdefault("runs_dir", _runs_dir(request.config, tmp_path))
        _, target = load_for_target(
            path, options.get("vars"), options.get("var_files"), options.get("target")
        )
        if target.kind in MESH_TARGETS:
            from chaos.targets.launcher import load_mesh_state
            from chaos.targets.launcher.leftovers import wait_until_settled

            mesh: MeshHandle = request.getfixturevalue("gameday_mesh")
            monkeypatch.setenv(MESH_STATE_ENV, str(mesh.state_file))
            options["target"] = "mesh"
            wait_until_settled(load_mesh_state(mesh.state_file))
        result = run_experiment(Path(path), RunOptions(**options))
        if result.run_dir is not None:
            append_run(result.run_dir, path, Path(options["runs_dir"]))
        return result

    return run


@pytest.fixture
def gameday_result(
    request: pytest.FixtureRequest, run_gameday_experiment: Callable[..., RunResult]
) -> RunResult:
    """The result of the test's `@pytest.mark.gameday(...)` experiment, which already had
    the expected verdict (else the test failed before its body)."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid}: gameday_result needs @pytest.mark.gameday")
    options = dict(marker.kwargs)
    experiment = options.pop("experiment", None) or (marker.args[0] if marker.args else None)
    if experiment is None:
        raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.gameday needs an experiment")
    expect = options.pop("expect", "held")
    if expect not in VERDICTS:
        raise pytest.UsageError(f"{request.node.nodeid}: expect must be one of {VERDICTS}")
    path = Path(experiment)
    if not path.is_absolute():
        path = Path(request.config.rootpath) / path
    result = run_gameday_experiment(path, **options)
    if result.verdict != expect:
        pytest.fail(
            f"{experiment}: expected {expect}, got {result.verdict}: {result.reason} "
            f"(run folder: {result.run_dir})",
            pytrace=False,
        )
    return result
