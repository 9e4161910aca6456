"""An output folder that cannot be written is a located LoadError before Locust starts."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from chaos.load import LoadError, LoadRunner, LoadSpec


def test_unwritable_output_folder_is_named_and_nothing_starts(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    spec = LoadSpec(host="http://127.0.0.1:9", output_dir=blocker / "load", duration_s=1)
    children_before = {child.pid for child in psutil.Process().children(recursive=True)}
    with pytest.raises(LoadError) as raised:
        LoadRunner(spec).start()
    assert f"cannot write the load output folder {blocker / 'load'}" in str(raised.value)
    assert {child.pid for child in psutil.Process().children(recursive=True)} == children_before
