"""Invariant probes: where the ack file comes from, and errors without a mesh. Their audit
against real data runs in tests/faults/test_faults_on_mesh.py (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.probes.errors import ProbeTargetUnknown
from chaos.probes.invariants import ack_file, invariants_hold, outbox_drains_within


def test_ack_file_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GAMEDAY_ACK_FILE", raising=False)
    assert ack_file({}) is None
    run = {"gameday_run_dir": str(tmp_path / "run")}
    assert ack_file(run) == tmp_path / "run" / "load" / "acks.jsonl"
    monkeypatch.setenv("GAMEDAY_ACK_FILE", str(tmp_path / "env.jsonl"))
    assert ack_file(run) == tmp_path / "env.jsonl"
    configured = {**run, "gameday_ack_file": str(tmp_path / "cfg.jsonl")}
    assert ack_file(configured) == tmp_path / "cfg.jsonl"


def test_no_mesh_is_a_clear_error(tmp_path: Path) -> None:
    cfg = {"gameday_mesh_state": str(tmp_path / "missing.json")}
    with pytest.raises(ProbeTargetUnknown, match="no running mesh"):
        invariants_hold(configuration=cfg)
    with pytest.raises(ValueError, match="timeout_s"):
        outbox_drains_within(timeout_s=0, configuration=cfg)
