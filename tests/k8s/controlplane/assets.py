"""Where the control plane's binaries live: one setting, like envtest's KUBEBUILDER_ASSETS."""

from __future__ import annotations

import os
from pathlib import Path

ASSETS_ENV = "GAMEDAY_K8S_ASSETS"
DEFAULT_ASSETS = Path.home() / ".cache" / "chaos-gameday" / "k8s-v1.20.2"
BUILD_SCRIPT = Path(__file__).with_name("build.sh")
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


class ControlPlaneError(Exception):
    """The control plane could not be started or used."""


class MissingBinaries(ControlPlaneError):
    """The binaries are not built yet."""


def assets_dir() -> Path:
    """The directory of the binaries: env GAMEDAY_K8S_ASSETS, else the build's cache."""
    configured = os.environ.get(ASSETS_ENV)
    return Path(configured) if configured else DEFAULT_ASSETS


def find_binaries(directory: Path | None = None) -> dict[str, Path]:
    """name -> path of each binary; MissingBinaries names the build script otherwise."""
    directory = directory or assets_dir()
    found = {name: directory / name for name in BINARIES}
    missing = [name for name, path in found.items() if not os.access(path, os.X_OK)]
    if missing:
        raise MissingBinaries(
            f"no {', '.join(missing)} in {directory} (set by {ASSETS_ENV}); build them once "
            f"with {BUILD_SCRIPT.relative_to(BUILD_SCRIPT.parents[3])} (about 5 minutes)"
        )
    return found
