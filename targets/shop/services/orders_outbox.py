"""The outbox relay: delivers events from the orders outbox to notifications.

Each replica runs one. A batch is claimed under a lease (so two replicas do not send the
same event at the same moment; if one dies its lease runs out and another takes over);
a failed delivery is retried later with exponential backoff and jitter. Delivery is
at-least-once; notifications deduplicates by event id, which makes it exactly-once in
effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time

from chaos.targets.shop.edges import EdgeClient, EdgeUnavailable
from chaos.targets.shop.metrics import OUTBOX_BACKLOG, OUTBOX_DELIVERED
from chaos.targets.shop.storage import transaction

BATCH = 20
LEASE_S = 10.0
MAX_BACKOFF_S = 2.0
IDLE_POLL_S = 0.25


def backlog(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]


class OutboxRelay:
    def __init__(self, db: sqlite3.Connection, notifications: EdgeClient) -> None:
        self.db = db
        self.notifications = notifications
        self.wake = asyncio.Event()

    def _claim(self) -> list[sqlite3.Row]:
        now = time.time()
        with transaction(self.db):
            return self.db.execute(
                "UPDATE outbox SET lease_until = ? WHERE event_id IN ("
                "  SELECT event_id FROM outbox WHERE delivered_at IS NULL"
                "  AND next_attempt_at <= ? AND lease_until < ? ORDER BY created_at LIMIT ?"
                ") RETURNING event_id, order_id, type, attempts",
                (now + LEASE_S, now, now, BATCH),
            ).fetchall()

    async def _deliver(self, event: sqlite3.Row) -> None:
        try:
            response = await self.notifications.request(
                "POST",
                "/events",
                json={
                    "event_id": event["event_id"],
                    "order_id": event["order_id"],
                    "type": event["type"],
                },
            )
            ok = response.status_code < 300
        except EdgeUnavailable:
            ok = False
        now = time.time()
        with transaction(self.db):
            if ok:
                self.db.execute(
                    "UPDATE outbox SET delivered_at = ?, lease_until = 0 WHERE event_id = ?",
                    (now, event["event_id"]),
                )
            else:
                attempts = event["attempts"] + 1
                delay = min(MAX_BACKOFF_S, 0.1 * 2**attempts) * random.uniform(0.5, 1.5)
                self.db.execute(
                    "UPDATE outbox SET attempts = ?, next_attempt_at = ?, lease_until = 0 "
                    "WHERE event_id = ?",
                    (attempts, now + delay, event["event_id"]),
                )
        if ok:
            OUTBOX_DELIVERED.inc()

    async def run_once(self) -> int:
        """Deliver one batch; returns how many events were attempted."""
        events = self._claim()
        if events:
            await asyncio.gather(*(self._deliver(event) for event in events))
        OUTBOX_BACKLOG.set(backlog(self.db))
        return len(events)

    async def run_forever(self) -> None:
        while True:
            try:
                attempted = await self.run_once()
            except sqlite3.Error:
                attempted = 0  # a busy database; the next round tries again
            if attempted:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), IDLE_POLL_S)
