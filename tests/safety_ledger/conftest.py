"""Ledger tests call real undos from a module written into the test's folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.safety.ledger import UndoSpec

UNDO_MODULE = """
from pathlib import Path

def remove_marker(path):
    # Idempotent like every real undo: a missing marker is fine.
    Path(path).unlink(missing_ok=True)
    with open(str(path) + ".calls", "a") as calls:
        calls.write("undo\\n")

def explode(reason):
    raise RuntimeError(reason)
"""


@pytest.fixture
def undo_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "ledger_test_undo.py").write_text(UNDO_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    return "ledger_test_undo"


@pytest.fixture
def marker_undo(undo_module: str) -> Callable[[Path], UndoSpec]:
    """`marker_undo(path)`: the undo that removes the marker file at `path`."""

    def undo(marker: Path) -> UndoSpec:
        return UndoSpec(module=undo_module, func="remove_marker", arguments={"path": str(marker)})

    return undo
