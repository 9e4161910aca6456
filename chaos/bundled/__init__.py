"""What the package ships besides code: the bundled experiments, runbooks, game-day plans
and k8s manifests.

In a source checkout they are the folders experiments/, runbooks/, gamedays/ and k8s/ at
the top; a wheel installs them as chaos/bundled/experiments/ and so on (pyproject's
package-dir). Either way they sit side by side, so the relative references inside them
(an experiment's `runbook: runbooks/x.md`, a plan's `experiment: ../experiments/y.yaml`)
resolve from `root()`, and importlib.resources finds them from any working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

Folder = Literal["experiments", "runbooks", "gamedays", "k8s"]


def folder(name: Folder) -> Path:
    """The bundled folder on disk (the package is installed unzipped, as pip does)."""
    return Path(str(files(f"chaos.bundled.{name}")))


def root() -> Path:
    """The folder holding the bundled folders: the checkout, or chaos/bundled in a wheel."""
    return folder("runbooks").parent


def experiment_names() -> list[str]:
    """The bundled experiments by name (`gameday run NAME`)."""
    return sorted(path.stem for path in folder("experiments").glob("*.yaml"))


def experiment(name: str) -> Path | None:
    """The bundled experiment called `name` (file stem, e.g. `flagship`), if there is one."""
    path = folder("experiments") / f"{name}.yaml"
    return path if name in experiment_names() else None
