"""`chaos discover --no-install chaos-gameday` lists every fault and probe with its arguments."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

from chaos.discovery import ACTION_PACKAGE, PROBE_PACKAGE, activity_modules

BIN = Path(sys.executable).parent


def _exported(package: str) -> dict[tuple[str, str], list[str]]:
    found = {}
    for name in activity_modules(package):
        module = importlib.import_module(name)
        for func_name in module.__all__:
            func = getattr(module, func_name)
            if inspect.isfunction(func):
                parameters = inspect.signature(func).parameters
                found[(name, func_name)] = list(parameters)
    return found


def test_chaos_discover_lists_every_fault_and_probe_with_arguments(tmp_path: Path) -> None:
    output = tmp_path / "discovery.json"
    completed = subprocess.run(
        [
            str(BIN / "chaos"),
            "--no-log-file",
            "discover",
            "--no-install",
            "--no-system-info",
            "--discovery-path",
            str(output),
            "chaos-gameday",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    discovery = json.loads(output.read_text(encoding="utf-8"))
    assert discovery["extension"]["name"] == "chaos-gameday"
    listed = {
        (activity["mod"], activity["name"]): (
            activity["type"],
            [argument["name"] for argument in activity["arguments"]],
        )
        for activity in discovery["activities"]
    }
    actions, probes = _exported(ACTION_PACKAGE), _exported(PROBE_PACKAGE)
    assert ("chaos.faults.network", "add_latency") in actions
    assert ("chaos.probes.load", "latency_percentile") in probes
    for key, arguments in actions.items():
        assert listed[key] == ("action", arguments), key
    for key, arguments in probes.items():
        assert listed[key] == ("probe", arguments), key
    assert len(listed) == len(actions) + len(probes)
    add_latency = next(a for a in discovery["activities"] if a["name"] == "add_latency")
    latency_ms = next(a for a in add_latency["arguments"] if a["name"] == "latency_ms")
    assert latency_ms == {"name": "latency_ms", "type": "integer"}
