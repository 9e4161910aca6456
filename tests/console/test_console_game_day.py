"""Next step from the console moves a waiting game day on; `gameday console` refuses to
attach when nothing runs and names a port it cannot bind."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from chaos.cli.main import app
from chaos.console.access import ConsoleAccess
from chaos.console.advance import wait_for_advance
from chaos.console.app import create_app


def _game_day_in_progress(tmp_path: Path) -> tuple[Path, Path]:
    runs = tmp_path / "runs"
    folder = runs / "20260101T000000Z-gameday-checkout"
    folder.mkdir(parents=True)
    (folder / "gameday.json").write_text(json.dumps({"kind": "gameday", "steps": []}))
    (folder / "timeline.jsonl").write_text("")
    (runs / ".active").write_text(
        json.dumps({"run_dir": str(folder), "pid": os.getpid(), "since": time.time()})
    )
    return runs, folder


def test_next_step_releases_a_game_day_waiting_for_it(tmp_path: Path) -> None:
    runs, folder = _game_day_in_progress(tmp_path)
    enter = threading.Event()
    outcome: list[str] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(wait_for_advance(folder, "Press Enter", enter))
    )
    waiter.start()
    try:
        deadline = time.monotonic() + 10
        while "awaiting_advance" not in (folder / "timeline.jsonl").read_text():
            assert time.monotonic() < deadline, "the wait was never stamped"
            time.sleep(0.05)
        client = TestClient(
            create_app(runs, ConsoleAccess()), base_url="http://127.0.0.1", client=("127.0.0.1", 1)
        )
        response = client.post("/api/next", json={"author": "Fatima"})
        assert response.status_code == 200, response.text
        waiter.join(10)
        assert outcome == ["Fatima"]
        events = [json.loads(x) for x in (folder / "timeline.jsonl").read_text().splitlines()]
        assert [e["kind"] for e in events] == ["awaiting_advance", "advance"]
        assert events[1]["author"] == "Fatima"
    finally:
        enter.set()  # ends the wait whatever happened
        waiter.join(10)


def test_next_step_is_refused_while_the_game_day_is_not_waiting(tmp_path: Path) -> None:
    runs, folder = _game_day_in_progress(tmp_path)
    client = TestClient(
        create_app(runs, ConsoleAccess()), base_url="http://127.0.0.1", client=("127.0.0.1", 1)
    )
    response = client.post("/api/next", json={"author": "Fatima"})
    assert response.status_code == 409
    assert "not waiting" in response.json()["error"]
    assert (folder / "timeline.jsonl").read_text() == ""


def test_an_advance_from_before_the_prompt_does_not_count(tmp_path: Path) -> None:
    _, folder = _game_day_in_progress(tmp_path)
    (folder / "timeline.jsonl").write_text(
        json.dumps({"ts": time.time() - 60, "kind": "advance", "author": "old"}) + "\n"
    )
    enter = threading.Event()
    threading.Timer(0.6, enter.set).start()
    assert wait_for_advance(folder, "Press Enter", enter) == "the terminal"


def test_console_without_a_run_in_progress_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["console", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "no run in progress" in result.output


def test_console_on_a_taken_port_exits_4_naming_it(tmp_path: Path) -> None:
    runs, _ = _game_day_in_progress(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["console", "--runs-dir", str(runs), "--port", str(port)])
    assert result.exit_code == 4
    assert f"127.0.0.1:{port}" in result.output


def test_run_with_a_console_on_a_taken_port_exits_4_before_anything_starts(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app,
            [
                "run",
                str(tmp_path / "any.yaml"),
                "--console",
                "--console-port",
                str(port),
                "--runs-dir",
                str(runs),
            ],
        )
    assert result.exit_code == 4
    assert f"127.0.0.1:{port}" in result.output
    assert not runs.exists()
