"""`gameday demo`: mesh up, flagship under load, report written, mesh down (slow)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_the_flagship_writes_the_report_and_stops_the_mesh(
    gameday: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    completed = subprocess.run(
        [str(gameday), "demo", "--no-live", "--runs-dir", str(runs)],
        cwd=tmp_path,  # the flagship is found next to the package, not in the cwd
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )
    output = completed.stdout + completed.stderr
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert completed.returncode == summary["exit_code"] in (0, 1), output
    assert summary["title"].startswith("Flagship")
    for name in ("report.md", "report.html", "junit.xml"):
        assert (run_dir / name).is_file(), output
    assert not (run_dir / "mesh" / "mesh.json").exists(), "the mesh was left running"
    [entry] = [json.loads(line) for line in (runs / "index.jsonl").read_text().splitlines()]
    assert entry["run_dir"] == str(run_dir) and entry["exit_code"] == summary["exit_code"]
    assert "Traceback" not in output
