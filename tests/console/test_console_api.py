"""The console's API over a real runs folder: what a page is pushed, notes as `gameday
note`, the facilitator's actions, and who may do what."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from chaos.console.access import ConsoleAccess
from chaos.console.app import create_app
from chaos.console.follow import RunCursor
from chaos.safety.ledger import Ledger
from tests.console.conftest import TITLE, RunInProgress

LOCAL = ("127.0.0.1", 40000)
REMOTE = ("192.0.2.7", 40000)


def _client(run: RunInProgress, access: ConsoleAccess, client=LOCAL) -> TestClient:
    # A short grace: the stand-in runner exits on SIGTERM at once.
    return TestClient(
        create_app(run.runs_dir, access, stop_grace_s=5),
        base_url="http://127.0.0.1:8800",
        client=client,
    )


def _first_event(client: TestClient, token: str | None = None) -> tuple[str, dict]:
    params = {"token": token} if token else {}
    with client.stream("GET", "/api/events", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                return name, json.loads(line[6:])
    raise AssertionError("the stream ended without an event")


def _nothing_changed(run: RunInProgress, timeline_before: int) -> None:
    assert run.runner.poll() is None, "the runner was signalled"
    assert run.toxics() == ["gameday-latency"], "the fault was undone"
    assert not (run.runs_dir / ".emergency-stop").exists()
    assert len(run.timeline()) == timeline_before


def test_a_page_gets_the_run_so_far_then_only_what_was_appended(run_in_progress) -> None:
    run = run_in_progress
    name, snapshot = _first_event(_client(run, ConsoleAccess()))
    assert name == "snapshot"
    assert snapshot["run"] == run.run_dir.name
    assert snapshot["experiment"]["title"] == TITLE
    assert snapshot["experiment"]["probes"] == [{"name": "checkout p95", "tolerance": {"lt": 500}}]
    assert "When payments are slow" in snapshot["experiment"]["runbook_text"]
    assert [e["kind"] for e in snapshot["events"]] == ["phase", "fault", "check"]
    assert snapshot["seconds"][0]["rps"] == 50.0
    [fault] = snapshot["faults"]
    assert fault["status"] == "applied" and fault["outstanding"] and fault["expires_at"]

    cursor = RunCursor(run.runs_dir)
    cursor.snapshot()
    assert cursor.changes() is None
    with (run.run_dir / "load" / "stream.jsonl").open("a") as stream:
        stream.write(json.dumps({"ts": 1, "rps": 7.0, "requests": 7}) + "\n")
    delta = cursor.changes()
    assert delta is not None
    assert [s["rps"] for s in delta["seconds"]] == [7.0]
    assert "events" not in delta and "faults" not in delta


def test_a_note_lands_in_the_timeline_as_gameday_note_writes_it(run_in_progress) -> None:
    run = run_in_progress
    response = _client(run, ConsoleAccess()).post(
        "/api/notes", json={"text": "  checkout   spinner <b>stuck</b> ", "author": "Ana"}
    )
    assert response.status_code == 200, response.text
    note = run.timeline()[-1]
    assert note["kind"] == "note"
    assert note["text"] == "checkout spinner <b>stuck</b>"
    assert note["author"] == "Ana"


def test_a_note_without_an_author_is_refused_and_not_written(run_in_progress) -> None:
    run = run_in_progress
    before = len(run.timeline())
    response = _client(run, ConsoleAccess()).post(
        "/api/notes", json={"text": "hello", "author": "  "}
    )
    assert response.status_code == 409
    assert "author" in response.json()["error"]
    assert len(run.timeline()) == before


def test_an_observer_cannot_stop_or_advance_and_nothing_changes(run_in_progress) -> None:
    run = run_in_progress
    access = ConsoleAccess(bind="0.0.0.0")
    client = _client(run, access, client=REMOTE)
    before = len(run.timeline())
    auth = {"Authorization": f"Bearer {access.observer_token}"}
    assert client.post("/api/stop", headers=auth).status_code == 403
    assert client.post("/api/next", headers=auth, json={"author": "x"}).status_code == 403
    _nothing_changed(run, before)
    # Observers still read and note.
    assert client.get("/api/whoami", headers=auth).json()["role"] == "observer"
    assert (
        client.post(
            "/api/notes", headers=auth, json={"text": "seen it", "author": "Obs"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_without_the_right_token_every_request_for_data_gets_401(run_in_progress, token) -> None:
    run = run_in_progress
    (run.run_dir / "report.html").write_text("<h1>report</h1>")
    client = _client(run, ConsoleAccess(bind="0.0.0.0"), client=REMOTE)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    before = len(run.timeline())
    for method, path in [
        ("GET", "/api/events"),
        ("GET", "/api/whoami"),
        ("GET", f"/report/{run.run_dir.name}"),
        ("POST", "/api/stop"),
        ("POST", "/api/next"),
        ("POST", "/api/notes"),
    ]:
        response = client.request(method, path, headers=headers, json={"text": "x", "author": "y"})
        assert response.status_code == 401, (method, path)
        assert TITLE not in response.text and "report" not in response.text
    _nothing_changed(run, before)
    # The page and its assets carry nothing from the run; they load without a token.
    assert client.get("/").status_code == 200
    assert client.get("/static/vendor/uPlot.iife.min.js").status_code == 200


def test_a_loopback_console_refuses_a_request_from_another_address(run_in_progress) -> None:
    run = run_in_progress
    access = ConsoleAccess()
    client = _client(run, access, client=REMOTE)
    before = len(run.timeline())
    # Not even with the facilitator's token: a loopback binding admits this machine only.
    auth = {"Authorization": f"Bearer {access.facilitator_token}"}
    assert client.get("/", headers=auth).status_code == 403
    assert client.post("/api/stop", headers=auth).status_code == 403
    _nothing_changed(run, before)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},  # a cross-site form post
        {"Host": "evil.example:8800"},  # a DNS name rebound to 127.0.0.1
    ],
)
def test_another_site_cannot_act_through_the_facilitators_browser(run_in_progress, headers) -> None:
    run = run_in_progress
    client = _client(run, ConsoleAccess())
    before = len(run.timeline())
    assert client.post("/api/stop", headers=headers).status_code == 403
    note = {"text": "x", "author": "y"}
    assert client.post("/api/notes", headers=headers, json=note).status_code == 403
    _nothing_changed(run, before)
    # The page's own requests carry its own origin.
    own = {"Origin": "http://127.0.0.1:8800"}
    assert client.post("/api/notes", headers=own, json=note).status_code == 200


def test_the_facilitator_stop_does_what_gameday_stop_does(run_in_progress) -> None:
    run = run_in_progress
    access = ConsoleAccess(bind="0.0.0.0")
    client = _client(run, access, client=REMOTE)
    response = client.post(
        "/api/stop", headers={"Authorization": f"Bearer {access.facilitator_token}"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["complete"] and not report["may_still_be_applied"]
    assert [r["outcome"] for r in report["runners"]] == ["stopped"]
    assert run.runner.wait(10) is not None
    assert run.toxics() == []
    assert Ledger(run.run_dir / "ledger.jsonl").outstanding() == []
    assert (run.runs_dir / ".emergency-stop").exists()
    assert any(e.get("author") == "gameday stop" for e in run.timeline())


def test_next_step_is_refused_when_no_game_day_runs(run_in_progress) -> None:
    response = _client(run_in_progress, ConsoleAccess()).post("/api/next", json={"author": "F"})
    assert response.status_code == 409
    assert "no game day" in response.json()["error"]


def test_the_page_sets_strings_as_text_under_a_strict_policy(run_in_progress) -> None:
    client = _client(run_in_progress, ConsoleAccess())
    page = client.get("/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    # The page carries no experiment text: it arrives as JSON and is set as text.
    assert "Payments" not in page.text
    script = client.get("/static/console.js").text
    assert ".innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "textContent" in script
    assert client.get("/static/vendor/uPlot.iife.min.js").status_code == 200


def test_the_report_link_serves_only_a_report_under_the_runs_folder(run_in_progress) -> None:
    run = run_in_progress
    client = _client(run, ConsoleAccess())
    assert client.get(f"/report/{run.run_dir.name}").status_code == 404
    (run.run_dir / "report.html").write_text("<h1>report</h1>")
    response = client.get(f"/report/{run.run_dir.name}")
    assert response.status_code == 200 and "report" in response.text
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert client.get("/report/..%2F..%2Fetc").status_code == 404
    _, snapshot = _first_event(client)
    assert snapshot["report"] is True
