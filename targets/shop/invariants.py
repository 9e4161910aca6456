"""The shop's data-integrity invariants, checked from outside after (or during) faults.

- every order the clients were told succeeded (the ack file) exists, is confirmed and
  carries the idempotency key it was acknowledged with;
- every confirmed order was charged exactly once, for its total; no other order holds
  a captured charge;
- stock matches: each product's stock went down by exactly what confirmed (and
  in-flight) orders hold, and no failed order still holds a reservation;
- every confirmed order is notified at most once, and exactly once once its outbox
  event was delivered; the current outbox backlog is reported.

The audit reads each service's database read-only, services first and orders last, and
treats orders that changed after it began as in flight (not judged), so concurrent
traffic cannot produce a false alarm.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from chaos.targets.shop.storage import open_readonly

if TYPE_CHECKING:
    from chaos.targets.launcher.state import MeshState

__all__ = ["InvariantCheck", "InvariantError", "InvariantReport", "check_invariants"]

MAX_EXAMPLES = 5


class InvariantError(Exception):
    """The audit could not run (a database or the ack file is unreadable)."""


class InvariantCheck(BaseModel):
    name: str
    ok: bool
    detail: str


class InvariantReport(BaseModel):
    ok: bool
    checks: list[InvariantCheck]
    outbox_backlog: int
    orders_confirmed: int = 0
    orders_in_flight: int = 0
    acknowledged: int = 0


def _examples(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_EXAMPLES])
    return shown + (f" and {len(items) - MAX_EXAMPLES} more" if len(items) > MAX_EXAMPLES else "")


def read_acks(ack_file: Path | str | None) -> list[dict]:
    """The acknowledged orders (a missing file means none yet); torn last lines skipped."""
    if ack_file is None:
        return []
    path = Path(ack_file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InvariantError(f"cannot read the ack file {path}: {exc.strerror}") from exc
    acks = []
    for line in text.splitlines():
        try:
            ack = json.loads(line)
        except ValueError:
            continue  # a line still being written
        if isinstance(ack, dict) and ack.get("order_id"):
            acks.append(ack)
    return acks


def _rows(data_dir: Path, service: str, *queries: str) -> list[list[sqlite3.Row]]:
    """The rows of each query, all read from one snapshot of the service's database: the
    shop keeps writing while it is audited, and two reads a moment apart (stock, then
    reservations) would disagree about a checkout that landed between them."""
    path = data_dir / f"{service}.db"
    if not path.exists():
        raise InvariantError(f"no {service} database at {path}")
    try:
        db = open_readonly(path)
        db.isolation_level = None  # explicit BEGIN: a read transaction holds one snapshot
        try:
            db.execute("BEGIN")
            results = [db.execute(query).fetchall() for query in queries]
            db.execute("COMMIT")
            return results
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise InvariantError(f"cannot read {path}: {exc}") from exc


def check_invariants(state: MeshState, ack_file: Path | str | None) -> InvariantReport:
    """Audit the mesh described by `state`; `ack_file` lists the acknowledged orders
    (JSON lines with `order_id` and `idempotency_key`; None or missing: none)."""
    data_dir = Path(state.state_dir) / "data"
    began = time.time()
    acks = read_acks(ack_file)
    stock, reservations = _rows(
        data_dir,
        "inventory",
        "SELECT product_id, initial, available FROM stock",
        "SELECT reservation_id, order_id, items, status FROM reservations",
    )
    [charges] = _rows(
        data_dir, "payments", "SELECT charge_key, order_id, amount_cents, status FROM charges"
    )
    notifications_read = time.time()  # events delivered before this must show up below
    [notifications] = _rows(data_dir, "notifications", "SELECT order_id FROM notifications")
    order_rows, outbox = _rows(
        data_dir,
        "orders",
        "SELECT order_id, idempotency_key, items, total_cents, status, attempt, updated_at "
        "FROM orders",
        "SELECT order_id, delivered_at FROM outbox",
    )
    orders = {row["order_id"]: row for row in order_rows}

    settled = {
        order_id: row
        for order_id, row in orders.items()
        if row["status"] in ("confirmed", "rejected", "failed") and row["updated_at"] < began
    }
    in_flight = set(orders) - set(settled)
    confirmed = {order_id for order_id, row in settled.items() if row["status"] == "confirmed"}
    checks = [
        _acknowledged(acks, orders),
        _charged_once(charges, orders, settled, confirmed),
        _stock(stock, reservations, orders, settled, in_flight),
        _notified_once(notifications, outbox, confirmed, notifications_read),
    ]
    backlog = sum(1 for row in outbox if row["delivered_at"] is None)
    return InvariantReport(
        ok=all(check.ok for check in checks),
        checks=checks,
        outbox_backlog=backlog,
        orders_confirmed=sum(1 for row in orders.values() if row["status"] == "confirmed"),
        orders_in_flight=len(in_flight),
        acknowledged=len({ack["order_id"] for ack in acks}),
    )


def _acknowledged(acks: list[dict], orders: dict[str, sqlite3.Row]) -> InvariantCheck:
    missing, unconfirmed, wrong_key = [], [], []
    for ack in acks:
        order = orders.get(ack["order_id"])
        if order is None:
            missing.append(ack["order_id"])
        elif order["status"] != "confirmed":
            unconfirmed.append(f"{ack['order_id']} ({order['status']})")
        elif ack.get("idempotency_key") and ack["idempotency_key"] != order["idempotency_key"]:
            wrong_key.append(ack["order_id"])
    problems = []
    if missing:
        problems.append(f"{len(missing)} acknowledged order(s) missing: {_examples(missing)}")
    if unconfirmed:
        problems.append(f"{len(unconfirmed)} not confirmed: {_examples(unconfirmed)}")
    if wrong_key:
        problems.append(f"{len(wrong_key)} under another idempotency key: {_examples(wrong_key)}")
    unique = len({ack["order_id"] for ack in acks})
    detail = "; ".join(problems) or f"all {unique} acknowledged orders exist and are confirmed"
    return InvariantCheck(name="acknowledged_orders_confirmed", ok=not problems, detail=detail)


def _charged_once(
    charges: list[sqlite3.Row],
    orders: dict[str, sqlite3.Row],
    settled: dict[str, sqlite3.Row],
    confirmed: set[str],
) -> InvariantCheck:
    captured: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for charge in charges:
        if charge["status"] == "captured":
            captured[charge["order_id"]].append(charge)
    problems = []
    twice = [f"{o} ({len(captured[o])}x)" for o in sorted(confirmed) if len(captured[o]) > 1]
    never = [o for o in sorted(confirmed) if not captured[o]]
    wrong_amount = [
        o
        for o in sorted(confirmed)
        if len(captured[o]) == 1 and captured[o][0]["amount_cents"] != settled[o]["total_cents"]
    ]
    stray = [
        o
        for o in sorted(captured)
        if o not in orders or (o in settled and settled[o]["status"] != "confirmed")
    ]
    if twice:
        problems.append(
            f"{len(twice)} confirmed order(s) charged more than once: {_examples(twice)}"
        )
    if never:
        problems.append(f"{len(never)} confirmed order(s) never charged: {_examples(never)}")
    if wrong_amount:
        problems.append(f"{len(wrong_amount)} charged a wrong amount: {_examples(wrong_amount)}")
    if stray:
        problems.append(
            f"{len(stray)} order(s) that did not succeed still hold a charge: {_examples(stray)}"
        )
    detail = (
        "; ".join(problems) or f"each of {len(confirmed)} confirmed orders charged exactly once"
    )
    return InvariantCheck(name="charged_exactly_once", ok=not problems, detail=detail)


def _stock(
    stock: list[sqlite3.Row],
    reservations: list[sqlite3.Row],
    orders: dict[str, sqlite3.Row],
    settled: dict[str, sqlite3.Row],
    in_flight: set[str],
) -> InvariantCheck:
    held: Counter[int] = Counter()  # what reservations hold, per product
    expected: Counter[int] = Counter()  # what confirmed + in-flight orders should hold
    leaks = []
    for reservation in reservations:
        if reservation["status"] != "reserved":
            continue
        items = json.loads(reservation["items"])
        for item in items:
            held[item["product_id"]] += item["quantity"]
        order = orders.get(reservation["order_id"])
        current = order is not None and reservation["reservation_id"] == (
            f"{order['order_id']}.{order['attempt']}"
        )
        if reservation["order_id"] in in_flight:
            for item in items:
                expected[item["product_id"]] += item["quantity"]
        elif not (current and order["status"] == "confirmed"):
            leaks.append(reservation["reservation_id"])
    for order in settled.values():
        if order["status"] == "confirmed":
            for item in json.loads(order["items"]):
                expected[item["product_id"]] += item["quantity"]
    taken = {row["product_id"]: row["initial"] - row["available"] for row in stock}
    problems = []
    drift = [
        f"product {p}: stock down {taken.get(p, 0)}, reservations hold {held[p]}"
        for p in sorted(set(taken) | set(held))
        if taken.get(p, 0) != held[p]
    ]
    mismatch = [
        f"product {p}: stock down {taken.get(p, 0)}, orders hold {expected[p]}"
        for p in sorted(set(taken) | set(expected))
        if taken.get(p, 0) != expected[p]
    ]
    if drift:
        problems.append(f"stock and reservations disagree: {_examples(drift)}")
    if leaks:
        problems.append(
            f"{len(leaks)} reservation(s) held for no confirmed order: {_examples(leaks)}"
        )
    if mismatch and not leaks:
        problems.append(f"stock does not match the orders: {_examples(mismatch)}")
    total = sum(taken.values())
    detail = "; ".join(problems) or f"stock matches confirmed orders ({total} units sold or held)"
    return InvariantCheck(name="stock_matches_orders", ok=not problems, detail=detail)


def _notified_once(
    notifications: list[sqlite3.Row],
    outbox: list[sqlite3.Row],
    confirmed: set[str],
    notifications_read: float,
) -> InvariantCheck:
    sent = Counter(row["order_id"] for row in notifications)
    delivered_before = {
        row["order_id"]
        for row in outbox
        if row["delivered_at"] is not None and row["delivered_at"] < notifications_read
    }
    twice = [f"{o} ({n}x)" for o, n in sorted(sent.items()) if n > 1]
    lost = [o for o in sorted(confirmed & delivered_before) if not sent[o]]
    no_event = [o for o in sorted(confirmed) if o not in {row["order_id"] for row in outbox}]
    problems = []
    if twice:
        problems.append(f"{len(twice)} order(s) notified more than once: {_examples(twice)}")
    if lost:
        problems.append(f"{len(lost)} delivered event(s) with no notification: {_examples(lost)}")
    if no_event:
        problems.append(
            f"{len(no_event)} confirmed order(s) with no outbox event: {_examples(no_event)}"
        )
    pending = len([row for row in outbox if row["delivered_at"] is None])
    detail = "; ".join(problems) or (
        f"{sum(sent.values())} notifications, none twice; {pending} waiting in the outbox"
    )
    return InvariantCheck(name="notified_exactly_once", ok=not problems, detail=detail)
