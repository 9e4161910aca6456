"""Which cluster a configuration names: a KUBECONFIG list is merged as kubectl merges it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from chaos.k8s.client import cluster_settings, connect
from chaos.k8s.errors import KubernetesUnreachable


def _kubeconfig(path: Path, name: str, server: str, current: bool) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {"token": f"token-{name}"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
    if current:
        document["current-context"] = name
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def two_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    first = _kubeconfig(tmp_path / "a.yaml", "first", "https://127.0.0.1:1001", current=True)
    second = _kubeconfig(tmp_path / "b.yaml", "second", "https://127.0.0.1:1002", current=True)
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    return first, second


def test_a_context_defined_in_the_second_file_is_found(two_files: tuple[Path, Path]) -> None:
    with connect({"k8s_context": "second"}) as api:
        assert api.host == "https://127.0.0.1:1002"
        assert api.api_client.configuration.api_key["BearerToken"] == "Bearer token-second"


def test_the_first_file_that_sets_a_current_context_wins(two_files: tuple[Path, Path]) -> None:
    with connect({}) as api:
        assert api.host == "https://127.0.0.1:1001"


def test_an_undo_records_every_file_and_the_context_in_force(
    two_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_files
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", f"a.yaml{os.pathsep}b.yaml")
    settings = cluster_settings({"k8s_request_timeout_s": 3})
    assert settings == {
        "k8s_kubeconfig": f"{first.resolve()}{os.pathsep}{second.resolve()}",
        "k8s_context": "first",
        "k8s_request_timeout_s": 3.0,
    }
    # From elsewhere, with KUBECONFIG gone, the recorded settings reach the same cluster.
    monkeypatch.chdir("/")
    monkeypatch.delenv("KUBECONFIG")
    with connect({**settings, "k8s_context": "second"}) as api:
        assert api.host == "https://127.0.0.1:1002"


def test_a_missing_file_in_the_list_is_skipped_like_kubectl_does(
    two_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, second = two_files
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing.yaml'}{os.pathsep}{second}")
    with connect({}) as api:
        assert api.host == "https://127.0.0.1:1002"


def test_a_list_of_missing_files_names_them(tmp_path: Path) -> None:
    listed = f"{tmp_path / 'x.yaml'}{os.pathsep}{tmp_path / 'y.yaml'}"
    with pytest.raises(KubernetesUnreachable, match="x.yaml.*y.yaml.* does not exist"):
        connect({"k8s_kubeconfig": listed})
