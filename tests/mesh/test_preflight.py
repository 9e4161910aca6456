"""A port the topology fixes that something else already listens on, or a state folder
that cannot be written: a located error before any part of the mesh starts, from the
library and from `gameday mesh up` (exit 4)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from chaos.targets.launcher import MeshFilesUnwritable, PortInUse, start_mesh

BUNDLED_TOPOLOGY = Path(__file__).resolve().parents[2] / "targets" / "shop" / "topology.yaml"
GAMEDAY = [sys.executable, "-c", "from chaos.cli.main import app; app()"]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on for the whole test."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]
    finally:
        holder.close()


def _topology(tmp_path: Path, **fixed: int) -> Path:
    data = yaml.safe_load(BUNDLED_TOPOLOGY.read_text())
    if "public_port" in fixed:
        data["public_port"] = fixed.pop("public_port")
    for service, port in fixed.items():
        data["services"][service]["port"] = port
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_start_mesh_refuses_a_busy_port_before_starting_anything(
    tmp_path: Path, busy_port: int
) -> None:
    topology = _topology(tmp_path, catalog=busy_port)
    children_before = {child.pid for child in psutil.Process().children(recursive=True)}
    with pytest.raises(PortInUse) as raised:
        start_mesh(tmp_path / "state", topology)
    message = str(raised.value)
    assert f"{busy_port} (services.catalog.port)" in message and str(topology) in message
    assert raised.value.busy == [("services.catalog.port", busy_port)]
    assert {child.pid for child in psutil.Process().children(recursive=True)} == children_before
    assert not (tmp_path / "state" / "mesh.json").exists()


@pytest.mark.parametrize("detach", [False, True], ids=["foreground", "detached"])
def test_mesh_up_on_a_busy_port_exits_4_naming_the_port(
    tmp_path: Path, busy_port: int, detach: bool
) -> None:
    topology = _topology(tmp_path, public_port=busy_port)
    state_file = tmp_path / "mesh.json"
    command = [*GAMEDAY, "mesh", "up", "--topology", str(topology), "--state-file", str(state_file)]
    result = subprocess.run(
        command + (["--detach"] if detach else []),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert f"port(s) {busy_port} (public_port) of the topology" in result.stderr
    assert not state_file.exists()  # no mesh, no daemon
    assert not (tmp_path / "mesh" / "daemon.log").exists()


def test_start_mesh_refuses_a_state_folder_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state folder should be")
    children_before = {child.pid for child in psutil.Process().children(recursive=True)}
    with pytest.raises(MeshFilesUnwritable) as raised:
        start_mesh(blocker / "state")
    assert f"the mesh's state folder {blocker / 'state'} cannot be written" in str(raised.value)
    assert {child.pid for child in psutil.Process().children(recursive=True)} == children_before


@pytest.mark.parametrize("detach", [False, True], ids=["foreground", "detached"])
def test_mesh_up_with_an_unwritable_state_file_exits_4_naming_it(
    tmp_path: Path, detach: bool
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state file's folder should be")
    state_file = blocker / "mesh.json"
    command = [*GAMEDAY, "mesh", "up", "--state-file", str(state_file)]
    command += ["--state-dir", str(tmp_path / "state")]
    result = subprocess.run(
        command + (["--detach"] if detach else []),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    assert f"the mesh's state file folder {blocker} cannot be written (it is a file" in said
    assert not (tmp_path / "state" / "daemon.log").exists()  # no daemon was started
