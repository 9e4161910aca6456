"""pytest fixtures over the real control plane (registered from tests/conftest.py).

- `control_plane` (session): one ControlPlane for the whole run, started on first use and
  stopped at the end even when tests fail. Skips, naming build.sh, when the binaries are
  not built, unless GAMEDAY_REQUIRE_K8S=1 (CI), where that fails instead.
- `lab_namespace` (function): a fresh namespace with k8s/runner's RBAC applied into it and
  a kubeconfig acting as the shipped gameday-runner ServiceAccount (TokenRequest token);
  deleted after the test.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .assets import MissingBinaries, find_binaries
from .controlplane import ControlPlane
from .lab import LabNamespace, open_lab_namespace

REQUIRE_ENV = "GAMEDAY_REQUIRE_K8S"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 requires the control plane)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    try:
        find_binaries()
    except MissingBinaries as exc:
        _unavailable(str(exc))
    if shutil.which("kubectl") is None:
        _unavailable("kubectl is not installed (apt-get install kubectl)")
    plane = ControlPlane()
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()


def _namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"lab-{slug}-{secrets.token_hex(3)}"


@pytest.fixture
def lab_namespace(
    control_plane: ControlPlane, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[LabNamespace]:
    with open_lab_namespace(control_plane, _namespace_name(request.node.name), tmp_path) as lab:
        yield lab
