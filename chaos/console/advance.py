""" "Next step" from the console: the facilitator's press lands in the game day's timeline
as an `advance` event, and `gameday play --step --console` waits for one (or for Enter).

The timeline is the record of the game day, so who moved it on, and when, is in it too.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from chaos.console.follow import JsonlTail
from chaos.gameday.notes import TIMELINE_FILE, append_timeline_event

ADVANCE_KIND = "advance"
# Stamped when the game day starts waiting, so the page offers "Next step" only then: a
# press before the wait would otherwise be lost.
AWAITING_KIND = "awaiting_advance"
POLL_S = 0.2


def request_advance(gameday_dir: Path, author: str) -> dict[str, Any]:
    """Append an `advance` event to the game day's timeline and return it."""
    event = {"ts": round(time.time(), 3), "kind": ADVANCE_KIND, "author": author}
    return append_timeline_event(gameday_dir, event)


def is_awaiting(gameday_dir: Path) -> bool:
    """The game day's latest wait has not been answered (nor has a step started since)."""
    waiting = False
    for event in JsonlTail(gameday_dir / TIMELINE_FILE).read():
        kind = event.get("kind")
        if kind == AWAITING_KIND:
            waiting = True
        elif kind == ADVANCE_KIND or (kind == "step" and event.get("edge") == "start"):
            waiting = False
    return waiting


def wait_for_advance(gameday_dir: Path, prompt: str, pressed: threading.Event) -> str:
    """Stamp an `awaiting_advance` event, then block until an `advance` follows it in the
    timeline or `pressed` is set (Enter at the terminal); returns who moved the game day
    on. Waits on a person, so it has no deadline of its own: Ctrl-C and `gameday stop` end
    it."""
    tail = JsonlTail(gameday_dir / TIMELINE_FILE)
    tail.read()  # what came before the wait never counts
    waiting = append_timeline_event(
        gameday_dir, {"ts": round(time.time(), 3), "kind": AWAITING_KIND, "prompt": prompt}
    )
    since = float(waiting["ts"])
    while not pressed.wait(POLL_S):
        for event in tail.read():
            if event.get("kind") == ADVANCE_KIND and float(event.get("ts", 0)) >= since:
                return str(event.get("author") or "the console")
    return "the terminal"
