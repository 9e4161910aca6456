"""Engine tests run experiments whose providers live in toy_providers.py next to this file."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
GAMEDAY = Path(sys.executable).parent / "gameday"


@pytest.fixture(autouse=True)
def toy_providers_importable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    yield


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "marker"


@pytest.fixture
def gameday() -> Path:
    return GAMEDAY


@pytest.fixture
def toy(tmp_path: Path, marker: Path):
    """`toy(**kwargs)` writes a toy experiment file and returns its path."""

    def write(**kwargs) -> Path:
        path = tmp_path / "toy.yaml"
        path.write_text(_toy_experiment(marker, **kwargs))
        return path

    return write


def _toy_experiment(
    marker: Path,
    hypothesis: str = "constant",
    action: str = "set_marker",
    action_args: str = "",
    pause_s: float = 1.0,
    frequency_s: float = 0.3,
    extra: str = "",
) -> str:
    """A toy experiment: the fault creates `marker`; its undo removes it."""
    probe_args = f"{{path: {marker}}}" if hypothesis == "marker_absent" else "{value: 1}"
    tolerance = "true" if hypothesis == "marker_absent" else "1"
    return f"""\
title: toy {action}
description: an engine test
target: none
load: false
hypothesis_frequency_s: {frequency_s}
{extra}
steady-state-hypothesis:
  title: toy hypothesis
  probes:
    - type: probe
      name: toy-check
      tolerance: {tolerance}
      provider:
        type: python
        module: toy_providers
        func: {hypothesis}
        arguments: {probe_args}
method:
  - type: action
    name: toy-fault
    provider:
      type: python
      module: toy_providers
      func: {action}
      arguments: {{path: {marker}{action_args}}}
    pauses: {{after: {pause_s}}}
rollbacks:
  - type: action
    name: toy-undo
    provider:
      type: python
      module: toy_providers
      func: clear_marker
      arguments: {{path: {marker}}}
"""
