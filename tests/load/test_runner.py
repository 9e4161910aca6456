"""LoadRunner end to end against a server whose behaviour is known."""

import json
import time
from pathlib import Path

import psutil
import pytest

from chaos.load import LoadError, LoadRunner, LoadSpec, StreamReader

from .conftest import LOCUSTFILES, KnownServer, locust_processes_for

pytestmark = pytest.mark.slow


def run_load(server: KnownServer, out: Path, **overrides: object) -> LoadRunner:
    spec = LoadSpec(
        host=server.url,
        locustfile=LOCUSTFILES / "mixed.py",
        output_dir=out,
        **{"users": 4, "spawn_rate": 20, "duration_s": 3, "stop_timeout_s": 2, **overrides},
    )
    runner = LoadRunner(spec)
    with runner:
        runner.wait_ready(timeout=30)
        assert runner.wait(timeout=30), "a timed run ends on its own"
    return runner


def stream_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "stream.jsonl").read_text().splitlines()]


def assert_counts_match_server(
    runner: LoadRunner, server: KnownServer, out: Path, client_resends_closed: bool = False
) -> None:
    summary = runner.summary
    assert summary is not None and summary.ready and summary.error is None
    seen = server.counts()
    closed = summary.endpoints["GET /close"].requests
    if client_resends_closed:
        # geventhttpclient silently re-sends an idempotent request whose connection
        # closed without a response; Locust records only the last attempt.
        assert seen.pop("/close") >= 2 * closed > 0
    else:
        assert closed == seen.pop("/close") > 0
    for path in ("/ok", "/err"):
        assert summary.endpoints[f"GET {path}"].requests == seen[path], path
    assert summary.total.requests == sum(seen.values()) + closed > 20
    seen["/close"] = closed
    assert summary.endpoints["GET /err"].failures_by_kind == {"http_500": seen["/err"]}
    assert summary.endpoints["GET /close"].failures_by_kind == {"connection_closed": seen["/close"]}
    assert summary.endpoints["GET /ok"].failures == 0
    # The stream accounts for every request once, one line per second (a sample that
    # reached disk after its second was written, on a starved machine, counts as late).
    lines = stream_lines(out)
    assert [line["ts"] for line in lines] == list(range(lines[0]["ts"], lines[-1]["ts"] + 1))
    streamed = sum(line["requests"] for line in lines)
    assert streamed + summary.late_samples == sum(seen.values())
    assert summary.late_samples <= sum(seen.values()) // 10
    streamed_err = sum(line["endpoints"].get("GET /err", {}).get("failures", 0) for line in lines)
    assert seen["/err"] - summary.late_samples <= streamed_err <= seen["/err"]
    assert json.loads((out / "summary.json").read_text())["total"]["requests"] == sum(seen.values())
    assert locust_processes_for(out) == []


@pytest.mark.parametrize(("user_class", "resends"), [("RequestsUser", False), ("FastUser", True)])
def test_counts_and_failure_kinds_agree_with_the_server(
    known_server: KnownServer, tmp_path: Path, user_class: str, resends: bool
) -> None:
    runner = run_load(known_server, tmp_path, user_classes=[user_class])
    assert_counts_match_server(runner, known_server, tmp_path, resends)


def test_distributed_mode_with_two_workers_aggregates_both(
    known_server: KnownServer, tmp_path: Path
) -> None:
    runner = run_load(known_server, tmp_path, workers=2, user_classes=["RequestsUser"])
    assert_counts_match_server(runner, known_server, tmp_path)
    per_worker = {
        name: len((tmp_path / "samples" / f"{name}.jsonl").read_text().splitlines())
        for name in ("worker-1", "worker-2")
    }
    assert all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) == sum(known_server.counts().values())
    assert set(runner.summary.exit_codes) == {"master", "worker-1", "worker-2"}


def test_percentiles_reflect_an_injected_delay(known_server: KnownServer, tmp_path: Path) -> None:
    runner = run_load(known_server, tmp_path, users=3, user_classes=["SlowUser"])
    total = runner.summary.total
    assert total.requests == known_server.counts()["/slow"] > 5
    assert total.p50 >= 200.0
    assert total.max >= total.p99 >= total.p95 >= total.p90 >= total.p50
    window = StreamReader(tmp_path).window(runner.started_at, runner.ended_at + 1)
    assert window.requests == total.requests
    for line in stream_lines(tmp_path):
        if line["requests"]:
            assert line["p50"] >= 200.0


def test_until_stopped_runs_until_stop(known_server: KnownServer, tmp_path: Path) -> None:
    spec = LoadSpec(
        host=known_server.url,
        locustfile=LOCUSTFILES / "mixed.py",
        user_classes=["FastUser"],
        users=2,
        output_dir=tmp_path,
    )
    with LoadRunner(spec) as runner:
        runner.wait_ready(timeout=30)
        assert not runner.wait(timeout=2.5), "no duration: still running"
        assert runner.running
        pids = list(runner.pids.values())
    assert not runner.running
    assert runner.summary.total.requests > 0
    assert runner.summary.duration_s >= 2.0
    assert pids and not any(psutil.pid_exists(pid) for pid in pids)
    assert locust_processes_for(tmp_path) == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("from locust import HttpUser\ndef broken(:\n    pass\n", "SyntaxError"),
        ("x = 1\n", "No User class found"),
        ("raise RuntimeError('no config for you')\n", "RuntimeError: no config for you"),
    ],
)
def test_failing_locustfile_is_a_clear_error_not_a_hang(
    tmp_path: Path, source: str, message: str
) -> None:
    locustfile = tmp_path / "broken_locustfile.py"
    locustfile.write_text(source)
    spec = LoadSpec(host="http://127.0.0.1:9", locustfile=locustfile, output_dir=tmp_path / "o")
    started = time.monotonic()
    with pytest.raises(LoadError, match=message), LoadRunner(spec) as runner:
        runner.wait_ready(timeout=60)
    assert time.monotonic() - started < 30
    assert runner.summary is not None and not runner.summary.ready
    assert message.split(":")[0] in runner.summary.error


def test_unknown_user_class_is_reported(known_server: KnownServer, tmp_path: Path) -> None:
    spec = LoadSpec(
        host=known_server.url,
        locustfile=LOCUSTFILES / "mixed.py",
        user_classes=["NoSuchUser"],
        output_dir=tmp_path,
    )
    with pytest.raises(LoadError, match="Unknown User.*NoSuchUser"), LoadRunner(spec) as runner:
        runner.wait_ready(timeout=60)


def test_missing_locustfile_fails_before_starting_anything(tmp_path: Path) -> None:
    spec = LoadSpec(host="http://x", locustfile=tmp_path / "nope.py", output_dir=tmp_path)
    with pytest.raises(LoadError, match="locustfile not found"):
        LoadRunner(spec).start()


def test_wait_ready_times_out_clearly(known_server: KnownServer, tmp_path: Path) -> None:
    # Spawning 2 users at 0.5 users/s takes 4 s, far more than the 0.3 s allowed.
    spec = LoadSpec(
        host=known_server.url,
        locustfile=LOCUSTFILES / "mixed.py",
        user_classes=["FastUser"],
        users=2,
        spawn_rate=0.5,
        output_dir=tmp_path,
    )
    with pytest.raises(LoadError, match="not ready within 0.3 s"), LoadRunner(spec) as runner:
        runner.wait_ready(timeout=0.3)
    assert locust_processes_for(tmp_path) == []


def test_locust_dying_mid_run_is_reported(tmp_path: Path) -> None:
    locustfile = tmp_path / "crashing.py"
    locustfile.write_text(
        "import os\n"
        "import gevent\n"
        "from locust import User, constant, task\n\n"
        "class Crasher(User):\n"
        "    wait_time = constant(0.1)\n\n"
        "    @task\n"
        "    def crash(self):\n"
        "        gevent.sleep(1.0)\n"
        "        os._exit(7)\n"
    )
    spec = LoadSpec(host="http://127.0.0.1:9", locustfile=locustfile, output_dir=tmp_path / "o")
    with LoadRunner(spec) as runner:
        runner.wait_ready(timeout=30)
        assert runner.wait(timeout=30)
    assert runner.failure is not None
    assert "exited with code 7 during the run" in str(runner.failure)
    assert "code 7" in runner.summary.error
