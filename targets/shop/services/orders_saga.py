"""The checkout saga: reserve stock -> charge -> confirm, compensating in reverse.

State lives in the orders table, so any replica can pick up a saga another replica
abandoned (it was killed mid-way): a saga runs only under a lease on its order row, and
every remote step is idempotent by a key derived from the order id and attempt number
(`<order_id>.<attempt>`), so resuming a step that already happened is harmless.

Order statuses: `pending` (steps in progress), `confirmed` (charged, stock held, event in
the outbox), `rejected` (a final business answer, e.g. out of stock; nothing held),
`compensating` (a step failed and the undo is not finished), `failed` (undone; the same
Idempotency-Key may try again, as a new attempt).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from chaos.targets.shop.edges import EdgeClient, EdgeUnavailable
from chaos.targets.shop.metrics import SAGAS
from chaos.targets.shop.storage import transaction

LEASE_S = 10.0  # renewed before every remote step


@dataclass(frozen=True)
class SagaResult:
    status: int  # the HTTP status for the client
    order: dict | None
    detail: str = ""


def order_view(row: sqlite3.Row) -> dict:
    return {
        "order_id": row["order_id"],
        "status": row["status"],
        "total_cents": row["total_cents"],
        "idempotency_key": row["idempotency_key"],
        "items": json.loads(row["items"]),
        "attempt": row["attempt"],
        "reason": row["reason"],
        "created_at": row["created_at"],
    }


class Saga:
    def __init__(
        self,
        db: sqlite3.Connection,
        inventory: EdgeClient,
        payments: EdgeClient,
        on_confirmed: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.inventory = inventory
        self.payments = payments
        self.owner = uuid.uuid4().hex[:12]
        self._on_confirmed = on_confirmed

    # -- leases ----------------------------------------------------------------------

    def claim(self, order_id: str) -> bool:
        now = time.time()
        with transaction(self.db):
            claimed = self.db.execute(
                "UPDATE orders SET lease_until = ?, lease_owner = ? WHERE order_id = ? "
                "AND lease_until < ? AND status IN ('pending', 'compensating', 'failed')",
                (now + LEASE_S, self.owner, order_id, now),
            ).rowcount
        return bool(claimed)

    def renew(self, order_id: str) -> None:
        """Extend our lease before a remote step, so a slow saga is not taken for dead."""
        with transaction(self.db):
            self.db.execute(
                "UPDATE orders SET lease_until = ? WHERE order_id = ? AND lease_owner = ?",
                (time.time() + LEASE_S, order_id, self.owner),
            )

    def _update(self, order_id: str, expected: str, **fields: object) -> bool:
        """Move the order on from status `expected`; False if it was no longer there
        (another replica settled it in the meantime)."""
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with transaction(self.db):
            changed = self.db.execute(
                f"UPDATE orders SET {assignments} WHERE order_id = ? AND status = ?",
                (*fields.values(), order_id, expected),
            ).rowcount
        return bool(changed)

    def load(self, order_id: str) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        assert row is not None, f"order {order_id} vanished"
        return row

    # -- the saga --------------------------------------------------------------------

    async def run(self, order_id: str, new_attempt_if_failed: bool = True) -> SagaResult:
        """Drive a claimed order to a final state; releases the lease in every case."""
        try:
            order = self.load(order_id)
            if order["status"] == "compensating":
                if not await self._compensate(order):
                    return SagaResult(503, order_view(order), "compensation pending")
                order = self.load(order_id)
            if order["status"] == "failed":
                if not new_attempt_if_failed:
                    return SagaResult(503, order_view(order), order["reason"] or "failed")
                self._update(
                    order_id, "failed", status="pending", attempt=order["attempt"] + 1, reason=""
                )
                order = self.load(order_id)
            if order["status"] != "pending":
                return SagaResult(200, order_view(order))
            return await self._forward(order)
        finally:
            with transaction(self.db):
                self.db.execute(
                    "UPDATE orders SET lease_until = 0 WHERE order_id = ? AND lease_owner = ?",
                    (order_id, self.owner),
                )

    async def _forward(self, order: sqlite3.Row) -> SagaResult:
        order_id = order["order_id"]
        step_key = f"{order_id}.{order['attempt']}"
        items = json.loads(order["items"])
        self.renew(order_id)
        try:
            reserved = await self.inventory.request(
                "POST",
                "/reservations",
                json={"reservation_id": step_key, "order_id": order_id, "items": items},
            )
        except EdgeUnavailable as exc:
            return await self._fail(order, f"reserve: {exc.reason}", exc.timed_out)
        if reserved.status_code == 409 and reserved.json().get("status") == "rejected":
            self._update(
                order_id, "pending", status="rejected", reason="out of stock", reject_status=409
            )
            SAGAS.labels("rejected").inc()
            return SagaResult(409, order_view(self.load(order_id)), "out of stock")
        if reserved.status_code >= 400:
            return await self._fail(order, f"reserve answered {reserved.status_code}", False)
        self.renew(order_id)
        try:
            charged = await self.payments.request(
                "POST",
                "/charges",
                json={
                    "charge_key": step_key,
                    "order_id": order_id,
                    "amount_cents": order["total_cents"],
                },
            )
        except EdgeUnavailable as exc:
            return await self._fail(order, f"charge: {exc.reason}", exc.timed_out)
        if charged.status_code >= 400:
            return await self._fail(order, f"charge answered {charged.status_code}", False)
        now = time.time()
        with transaction(self.db):
            confirmed = self.db.execute(
                "UPDATE orders SET status = 'confirmed', updated_at = ? "
                "WHERE order_id = ? AND status = 'pending'",
                (now, order_id),
            ).rowcount
            if confirmed:
                # The transactional outbox: the event commits with the order or not at all.
                self.db.execute(
                    "INSERT OR IGNORE INTO outbox (event_id, order_id, type, created_at) "
                    "VALUES (?, ?, 'order_confirmed', ?)",
                    (f"{order_id}:confirmed", order_id, now),
                )
        if not confirmed:
            current = self.load(order_id)  # settled elsewhere in the meantime
            return SagaResult(201 if current["status"] == "confirmed" else 503, order_view(current))
        SAGAS.labels("confirmed").inc()
        if self._on_confirmed is not None:
            self._on_confirmed()
        return SagaResult(201, order_view(self.load(order_id)))

    async def _fail(self, order: sqlite3.Row, reason: str, timed_out: bool) -> SagaResult:
        # Record the intent to compensate first: if we die now, recovery finishes the undo.
        if not self._update(order["order_id"], "pending", status="compensating", reason=reason):
            current = self.load(order["order_id"])  # settled elsewhere (e.g. confirmed)
            return SagaResult(201 if current["status"] == "confirmed" else 503, order_view(current))
        self.renew(order["order_id"])
        await self._compensate(self.load(order["order_id"]))
        SAGAS.labels("compensated").inc()
        status = 504 if timed_out else 503
        return SagaResult(status, order_view(self.load(order["order_id"])), reason)

    async def _compensate(self, order: sqlite3.Row) -> bool:
        """Undo the current attempt in reverse: refund, then release. Both are idempotent
        and leave tombstones, so a step still in flight cannot land afterwards."""
        order_id = order["order_id"]
        step_key = f"{order_id}.{order['attempt']}"
        try:
            await self.payments.request(
                "POST", f"/charges/{step_key}/refund", json={"order_id": order_id}
            )
            await self.inventory.request(
                "POST", f"/reservations/{step_key}/release", json={"order_id": order_id}
            )
        except EdgeUnavailable:
            return False  # stays `compensating`; the recovery loop tries again
        self._update(order_id, "compensating", status="failed")
        return True
