"""End to end against the real mesh (slow): verdicts and exit codes of `gameday run`, and
no toxic left on the fault proxy after SIGINT, SIGTERM or SIGKILL + `gameday rollback`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from chaos.proxy import ToxiproxyClient
from chaos.safety.ledger import Ledger

pytestmark = pytest.mark.slow

EXPERIMENT = """\
title: e2e {name}
description: an engine test
target: mesh
load: {{users: 4, spawn_rate: 4, warmup_s: 1, baseline_s: 3, recovery_s: 1}}
hypothesis_frequency_s: 1
steady-state-hypothesis:
  title: products are served
  probes:
    - type: probe
      name: {probe_name}
      tolerance: {{type: range, range: [0, {limit}]}}
      provider:
        type: python
        module: chaos.probes.load
        func: {probe_func}
        arguments: {{window_s: 2, endpoint: "GET /products"}}
method:
  - type: action
    name: slow-{edge_slug}
    provider:
      type: python
      module: chaos.faults.network
      func: add_latency
      arguments: {{edge: "{edge}", latency_ms: {latency}, ttl_s: 120}}
    pauses: {{after: {pause}}}
rollbacks:
  - type: action
    name: lift-latency
    provider:
      type: python
      module: chaos.faults.network
      func: remove_toxics
      arguments: {{edge: "{edge}"}}
"""


ERROR_RATE = {"probe_name": "products-error-rate", "probe_func": "error_rate"}
P95 = {"probe_name": "products-p95-ms", "probe_func": "latency_percentile"}


def _write(tmp_path: Path, name: str, **fields) -> Path:
    path = tmp_path / f"{name}.yaml"
    edge = fields["edge"]
    path.write_text(EXPERIMENT.format(name=name, edge_slug=edge.replace("->", "-"), **fields))
    return path


@pytest.fixture
def env(gameday_mesh) -> dict[str, str]:
    return {**os.environ, "GAMEDAY_MESH_STATE": str(gameday_mesh.state_file), "COLUMNS": "200"}


@pytest.fixture
def proxy(gameday_mesh) -> ToxiproxyClient:
    return ToxiproxyClient(gameday_mesh.state.proxy_api, timeout=5.0)


def _toxics(proxy: ToxiproxyClient, edge: str) -> list:
    return list(proxy.toxics(edge))


def _run_argv(gameday: Path, path: Path, runs: Path) -> list[str]:
    return [str(gameday), "run", str(path), "--runs-dir", str(runs), "--no-live"]


def _run(gameday: Path, path: Path, runs: Path, env: dict[str, str]):
    return subprocess.run(
        _run_argv(gameday, path, runs),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _summary(runs: Path) -> dict:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    return json.loads((run_dir / "summary.json").read_text())


def test_holding_experiment_exits_0(gameday: Path, tmp_path: Path, env, proxy) -> None:
    path = _write(
        tmp_path,
        "holds",
        edge="orders->payments",
        latency=50,
        pause=3,
        **ERROR_RATE,
        limit=0.2,
    )
    completed = _run(gameday, path, tmp_path / "runs", env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert _summary(tmp_path / "runs")["verdict"] == "held"
    assert _toxics(proxy, "orders->payments") == []


def test_deviating_experiment_exits_1(gameday: Path, tmp_path: Path, env, proxy) -> None:
    path = _write(
        tmp_path,
        "deviates",
        edge="gateway->catalog",
        latency=600,
        pause=4,
        **P95,
        limit=300,
    )
    completed = _run(gameday, path, tmp_path / "runs", env)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    summary = _summary(tmp_path / "runs")
    assert summary["verdict"] == "deviated"
    assert "during the method" in summary["reason"]
    assert _toxics(proxy, "gateway->catalog") == []


def _start(gameday: Path, path: Path, runs: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        _run_argv(gameday, path, runs),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_toxic(proxy: ToxiproxyClient, edge: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _toxics(proxy, edge):
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError("the latency toxic never appeared")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_rolls_back_the_toxic(gameday: Path, tmp_path: Path, env, proxy, signum) -> None:
    path = _write(
        tmp_path,
        "interrupted",
        edge="orders->payments",
        latency=100,
        pause=60,
        **ERROR_RATE,
        limit=1,
    )
    process = _start(gameday, path, tmp_path / "runs", env)
    try:
        _wait_for_toxic(proxy, "orders->payments", process)
        process.send_signal(signum)
        out, err = process.communicate(timeout=90)
        assert process.returncode == 3, out + err
        assert _toxics(proxy, "orders->payments") == []
        assert _summary(tmp_path / "runs")["verdict"] == "aborted"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_sigkill_then_gameday_rollback_clears_the_toxic(
    gameday: Path, tmp_path: Path, env, proxy
) -> None:
    path = _write(
        tmp_path,
        "killed",
        edge="orders->payments",
        latency=100,
        pause=60,
        **ERROR_RATE,
        limit=1,
    )
    runs = tmp_path / "runs"
    process = _start(gameday, path, runs, env)
    try:
        _wait_for_toxic(proxy, "orders->payments", process)
        process.kill()
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert _toxics(proxy, "orders->payments"), "the toxic should survive a SIGKILL"
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    rollback = subprocess.run(
        [str(gameday), "rollback", str(run_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert _toxics(proxy, "orders->payments") == []
    assert not Ledger(run_dir / "ledger.jsonl").outstanding()


def test_guardrail_on_the_live_stream_aborts_and_rolls_back(
    gameday: Path, tmp_path: Path, env, proxy
) -> None:
    path = _write(
        tmp_path,
        "guarded",
        edge="gateway->catalog",
        latency=600,
        pause=60,
        **ERROR_RATE,
        limit=1,
    )
    path.write_text(
        path.read_text().replace(
            "hypothesis_frequency_s: 1\n",
            "hypothesis_frequency_s: 1\nguardrails:\n"
            '  - {name: slow-products, metric: p95, endpoint: "GET /products", above: 300, '
            "for_s: 2}\n",
        )
    )
    started = time.monotonic()
    completed = _run(gameday, path, tmp_path / "runs", env)
    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert time.monotonic() - started < 50  # long before the 60 s pause would end
    summary = _summary(tmp_path / "runs")
    assert summary["verdict"] == "aborted" and "slow-products" in summary["reason"]
    assert _toxics(proxy, "gateway->catalog") == []
