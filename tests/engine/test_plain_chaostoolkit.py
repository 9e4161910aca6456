"""Our files run under plain chaostoolkit-lib too, and the timeline control records them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from chaoslib.experiment import ensure_experiment_is_valid
from chaoslib.run import Runner
from chaoslib.types import Strategy


def test_plain_chaostoolkit_runs_our_experiment_and_writes_the_timeline(
    toy, marker: Path, tmp_path: Path
) -> None:
    experiment = yaml.safe_load(toy(pause_s=0.2).read_text())
    run_dir = tmp_path / "run"
    experiment["configuration"] = {
        "gameday_run_dir": str(run_dir),
        "gameday_ledger": str(run_dir / "ledger.jsonl"),
    }
    experiment["controls"] = [
        {
            "name": "gameday-timeline",
            "provider": {"type": "python", "module": "chaos.engine.controls"},
        }
    ]
    ensure_experiment_is_valid(experiment)
    journal = Runner(Strategy.DEFAULT).run(experiment)
    assert journal["status"] == "completed"
    assert not marker.exists()  # the toy rollback removed it
    events = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    phases = [e["name"] for e in events if e["kind"] == "phase" and e["edge"] == "start"]
    assert phases == ["steady_state_before", "method", "steady_state_after", "rollbacks"]
    fault = next(e for e in events if e["kind"] == "fault" and e["edge"] == "start")
    assert fault["name"] == "toy-fault" and fault["target"] == str(marker)
    assert any(e["kind"] == "rollback" and e["id"] == "toy-undo" and e["ok"] for e in events)
