"""A runs folder with one run in progress (a live runner process, a real fault proxy with
one of our toxics under a ledger entry), for the console's API tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient
from chaos.safety.ledger import Ledger

TITLE = "Payments <b>slow</b> & <script>alert(1)</script>"
PROXY = "orders->payments"


@dataclass
class RunInProgress:
    runs_dir: Path
    run_dir: Path
    runner: subprocess.Popen[bytes]
    proxy: ToxiproxyClient

    def toxics(self) -> list[str]:
        return [toxic.name for toxic in self.proxy.toxics(PROXY)]

    def timeline(self) -> list[dict]:
        lines = (self.run_dir / "timeline.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def run_in_progress(tmp_path: Path) -> Iterator[RunInProgress]:
    runs_dir = tmp_path / "runs"
    run_dir = runs_dir / "20260101T000000Z-payments-slow"
    run_dir.mkdir(parents=True)
    now = time.time()
    (run_dir / "experiment.json").write_text(
        json.dumps(
            {
                "title": TITLE,
                "runbook": str(tmp_path / "runbook.md"),
                "steady-state-hypothesis": {
                    "probes": [{"name": "checkout p95", "tolerance": {"lt": 500}}]
                },
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "runbook.md").write_text("# When payments are slow\n<i>page</i>\n")
    _write_jsonl(
        run_dir / "timeline.jsonl",
        [
            {"ts": now - 3, "kind": "phase", "name": "method", "edge": "start"},
            {"ts": now - 2, "kind": "fault", "id": "f1", "name": "slow", "edge": "start"},
            {
                "ts": now - 1,
                "kind": "check",
                "probe": "checkout p95",
                "phase": "method",
                "value": 812.0,
                "tolerance": {"lt": 500},
                "ok": False,
            },
        ],
    )
    _write_jsonl(
        run_dir / "load" / "stream.jsonl",
        [
            {
                "ts": int(now) - 2,
                "requests": 50,
                "failures": 1,
                "rps": 50.0,
                "error_rate": 0.02,
                "p50": 10.0,
                "p95": 20.0,
                "p99": 30.0,
            }
        ],
    )
    # The runner: a process that lives until SIGTERMed, registered like `gameday run`.
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with EmbeddedProxyServer(host="127.0.0.1", port=0) as server:
        client = ToxiproxyClient(server.url, timeout=5.0)
        try:
            client.create_proxy(PROXY, upstream="127.0.0.1:9", listen="127.0.0.1:0")
            client.add_toxic(
                PROXY, "latency", name="gameday-latency", attributes={"latency": 500, "jitter": 0}
            )
            ledger = Ledger(run_dir / "ledger.jsonl")
            entry = ledger.record_intent(
                "network.latency",
                PROXY,
                {
                    "module": "chaos.faults.network",
                    "func": "remove_toxics",
                    "arguments": {"proxy": PROXY, "proxy_api": server.url},
                },
                expires_at=now + 60,
                run_dir=run_dir,
            )
            ledger.mark(entry, "applied")
            (runs_dir / ".active").write_text(
                json.dumps({"run_dir": str(run_dir), "pid": runner.pid, "since": now})
            )
            (runs_dir / f".runner-{runner.pid}-1.json").write_text(
                json.dumps(
                    {
                        "pid": runner.pid,
                        "create_time": psutil.Process(runner.pid).create_time(),
                        "kind": "run",
                        "run_dir": str(run_dir),
                        "ledger": str(run_dir / "ledger.jsonl"),
                        "since": now,
                    }
                )
            )
            yield RunInProgress(runs_dir, run_dir, runner, client)
        finally:
            client.close()
            runner.kill()
            runner.wait(10)
