"""`gameday demo`: mesh up, flagship under load, report written, mesh down (slow).

The flagship is documented (README quick start and release check, the experiment's own
description and `holds` tag) to hold: 400 ms (±50 ms) of latency on orders->payments for
15 s slows checkout down but never breaks it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from chaos.safety.ledger import Ledger

pytestmark = pytest.mark.slow

# The fault adds at least 400 - 50 ms to every call from orders to payments, and every
# checkout calls payments: checkout's p95 under the fault cannot be below it.
LEAST_ADDED_LATENCY_MS = 350


def test_demo_holds_under_the_flagship_fault_writes_the_report_and_stops_the_mesh(
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
    assert "Traceback" not in output
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (completed.returncode, summary["verdict"], summary["exit_code"]) == (0, "held", 0), (
        output
    )
    assert summary["title"].startswith("Flagship")
    assert "HELD Flagship" in output
    # What the quick start says it applies, and that it was lifted again.
    [fault] = Ledger(run_dir / "ledger.jsonl").entries()
    assert (fault.kind, fault.target, fault.status) == (
        "network.latency",
        "orders->payments",
        "undone",
    )
    journal = json.loads((run_dir / "journal.json").read_text())
    outputs = {step["activity"]["name"]: step["output"] for step in journal["run"]}
    assert outputs["checkout-p95-ms-during-fault"] >= LEAST_ADDED_LATENCY_MS
    for name in ("report.md", "report.html", "junit.xml"):
        assert (run_dir / name).is_file(), output
    assert not (run_dir / "mesh" / "mesh.json").exists(), "the mesh was left running"
    [entry] = [json.loads(line) for line in (runs / "index.jsonl").read_text().splitlines()]
    assert entry["run_dir"] == str(run_dir)
    assert (entry["verdict"], entry["exit_code"]) == ("held", 0)
    assert entry["p95_under_fault_ms"] >= LEAST_ADDED_LATENCY_MS
