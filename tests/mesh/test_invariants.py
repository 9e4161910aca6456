"""The invariant audit against hand-made databases: each violation is caught and named."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chaos.targets.launcher import MeshState
from chaos.targets.shop import invariants
from chaos.targets.shop.invariants import InvariantError, check_invariants
from chaos.targets.shop.services import inventory, notifications, orders, payments
from chaos.targets.shop.storage import open_db

PAST = time.time() - 60


class Shop:
    """Writes rows the way the services would."""

    def __init__(self, root: Path) -> None:
        data = root / "data"
        self.orders = open_db(data / "orders.db", orders.SCHEMA)
        self.payments = open_db(data / "payments.db", payments.SCHEMA)
        self.inventory = open_db(data / "inventory.db", inventory.SCHEMA)
        self.notifications = open_db(data / "notifications.db", notifications.SCHEMA)
        self.inventory.executemany("INSERT INTO stock VALUES (?, 100, 100)", [(1,), (2,)])
        self.state = MeshState.model_validate(
            {
                "owner_pid": 1,
                "started_at": datetime.now(UTC),
                "state_dir": str(root),
                "topology": "t",
                "proxy_api": "http://x",
                "gateway_url": "http://y",
                "services": {},
            }  # fmt: skip
        )

    def order(self, order_id: str, status: str = "confirmed", qty: int = 2, attempt: int = 1,
              charge: str | None = "captured", reservation: str | None = "reserved",
              event: str | None = "delivered", notify: int = 1) -> None:  # fmt: skip
        items = [{"product_id": 1, "quantity": qty}]
        self.orders.execute(
            "INSERT INTO orders (order_id, idempotency_key, items, total_cents, status, attempt,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (order_id, f"key-{order_id}", json.dumps(items), 500 * qty, status, attempt)
            + (PAST, PAST),
        )
        step = f"{order_id}.{attempt}"
        if charge:
            self.payments.execute(
                "INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?)",
                (step, order_id, 500 * qty, charge, PAST, PAST),
            )
        if reservation:
            self.inventory.execute(
                "INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?)",
                (step, order_id, json.dumps(items), reservation, PAST, PAST),
            )
            if reservation == "reserved":
                self.inventory.execute(
                    "UPDATE stock SET available = available - ? WHERE product_id = 1", (qty,)
                )
        if event:
            delivered = PAST if event == "delivered" else None
            self.orders.execute(
                "INSERT INTO outbox (event_id, order_id, type, created_at, delivered_at) "
                "VALUES (?, ?, 'order_confirmed', ?, ?)",
                (f"{order_id}:confirmed", order_id, PAST, delivered),
            )
        for n in range(notify):
            self.notifications.execute(
                "INSERT INTO notifications (event_id, order_id, kind, sent_at) VALUES (?, ?, ?, ?)",
                (f"{order_id}:confirmed#{n}", order_id, "order_confirmed", PAST),
            )

    def close(self) -> None:
        for db in (self.orders, self.payments, self.inventory, self.notifications):
            db.close()


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    shop = Shop(tmp_path)
    yield shop
    shop.close()


def acks(tmp_path: Path, *order_ids: str) -> Path:
    path = tmp_path / "acks.jsonl"
    lines = [json.dumps({"order_id": o, "idempotency_key": f"key-{o}", "ts": 0}) for o in order_ids]
    path.write_text("\n".join(lines) + '\n{"order_id": "torn')  # a line being written
    return path


def failed_names(report) -> set[str]:
    return {check.name for check in report.checks if not check.ok}


def test_a_consistent_shop_passes(shop: Shop, tmp_path: Path) -> None:
    shop.order("a")
    shop.order("b", qty=1)
    shop.order("c", status="failed", charge="refunded", reservation="released", event=None,
               notify=0)  # fmt: skip
    shop.order("d", status="rejected", charge=None, reservation="rejected", event=None, notify=0)
    shop.order("e", event="pending", notify=0)  # confirmed, e-mail not sent yet
    report = check_invariants(shop.state, acks(tmp_path, "a", "b", "e"))
    assert report.ok, report.checks
    assert report.outbox_backlog == 1
    assert report.orders_confirmed == 3 and report.acknowledged == 3


def test_acknowledged_order_missing_or_unconfirmed(shop: Shop, tmp_path: Path) -> None:
    shop.order("a")
    shop.order("f", status="failed", charge="refunded", reservation="released", event=None,
               notify=0)  # fmt: skip
    report = check_invariants(shop.state, acks(tmp_path, "a", "ghost", "f"))
    assert failed_names(report) == {"acknowledged_orders_confirmed"}
    detail = report.checks[0].detail
    assert "ghost" in detail and "f (failed)" in detail


def test_double_charge_and_charge_left_on_failed_order(shop: Shop, tmp_path: Path) -> None:
    shop.order("a")
    shop.payments.execute(
        "INSERT INTO charges VALUES ('a.2', 'a', 1000, 'captured', ?, ?)", (PAST, PAST)
    )
    shop.order("f", status="failed", charge="captured", reservation="released", event=None,
               notify=0)  # fmt: skip
    report = check_invariants(shop.state, None)
    assert failed_names(report) == {"charged_exactly_once"}
    detail = next(c.detail for c in report.checks if c.name == "charged_exactly_once")
    assert "a (2x)" in detail and "f" in detail


def test_leaked_reservation_and_stock_drift(shop: Shop, tmp_path: Path) -> None:
    shop.order("a")
    shop.order("f", status="failed", charge="refunded", reservation="reserved", event=None,
               notify=0)  # fmt: skip
    report = check_invariants(shop.state, None)
    assert failed_names(report) == {"stock_matches_orders"}
    assert "f.1" in report.checks[2].detail
    shop.inventory.execute("UPDATE stock SET available = available - 5 WHERE product_id = 2")
    report = check_invariants(shop.state, None)
    assert "product 2" in report.checks[2].detail


def test_notified_twice_or_lost(shop: Shop, tmp_path: Path) -> None:
    shop.order("a", notify=2)
    shop.order("b", notify=0)  # its event was delivered but no e-mail exists
    report = check_invariants(shop.state, None)
    assert failed_names(report) == {"notified_exactly_once"}
    detail = report.checks[3].detail
    assert "a (2x)" in detail and "b" in detail


def test_in_flight_orders_are_not_judged(shop: Shop, tmp_path: Path) -> None:
    shop.order("p", status="pending", charge="captured", event=None, notify=0)
    report = check_invariants(shop.state, None)
    assert report.ok and report.orders_in_flight == 1


def test_missing_database_is_an_error(tmp_path: Path) -> None:
    state = MeshState.model_validate(
        {"owner_pid": 1, "started_at": datetime.now(UTC), "state_dir": str(tmp_path),
         "topology": "t", "proxy_api": "http://x", "gateway_url": "http://y", "services": {}}
    )  # fmt: skip
    with pytest.raises(InvariantError, match="no inventory database"):
        check_invariants(state, None)


def test_cli_check_exit_codes_and_json(shop: Shop, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chaos.cli.main import app
    from chaos.targets.launcher.state import write_state

    shop.order("a")
    state_file = tmp_path / "mesh.json"
    # Owned by this process, so the state counts as a running mesh.
    write_state(state_file, shop.state.model_copy(update={"owner_pid": os.getpid()}))
    runner = CliRunner()
    args = ["mesh", "check", "--state-file", str(state_file), "--ack-file"]
    held = runner.invoke(app, [*args, str(acks(tmp_path, "a")), "--json"])
    assert held.exit_code == 0, held.output
    assert json.loads(held.output)["ok"] is True
    wide = {"COLUMNS": "200"}
    violated = runner.invoke(app, [*args, str(acks(tmp_path, "a", "ghost"))], env=wide)
    assert violated.exit_code == 1
    assert "acknowledged_orders_confirmed" in violated.output and "ghost" in violated.output
    missing = runner.invoke(app, [*args, str(tmp_path / "none.jsonl")], env=wide)
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_a_checkout_landing_between_two_reads_of_one_database_is_not_a_violation(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shop keeps writing while it is audited: a reservation committed right after the
    # stock was read must not make stock and reservations disagree.
    shop.order("a")
    shop.orders.execute(
        "INSERT INTO orders (order_id, idempotency_key, items, total_cents, status, attempt,"
        " created_at, updated_at) VALUES ('b', 'key-b', ?, 1000, 'pending', 1, ?, ?)",
        (json.dumps([{"product_id": 1, "quantity": 2}]), time.time(), time.time()),
    )

    written: list[bool] = []

    def reserve_for_b() -> None:
        written.append(True)
        with shop.inventory:
            shop.inventory.execute(
                "INSERT INTO reservations VALUES ('b.1', 'b', ?, 'reserved', ?, ?)",
                (json.dumps([{"product_id": 1, "quantity": 2}]), time.time(), time.time()),
            )
            shop.inventory.execute(
                "UPDATE stock SET available = available - 2 WHERE product_id = 1"
            )

    real_open = invariants.open_readonly

    class WriteAfterStockRead:
        def __init__(self, db: sqlite3.Connection) -> None:
            self._db = db

        def __getattr__(self, name: str) -> object:
            return getattr(self._db, name)

        def __setattr__(self, name: str, value: object) -> None:
            if name == "_db":
                object.__setattr__(self, name, value)
            else:
                setattr(self._db, name, value)

        def execute(self, query: str, *args: object) -> sqlite3.Cursor:
            cursor = self._db.execute(query, *args)
            if "FROM stock" in query and not written:
                rows = cursor.fetchall()
                reserve_for_b()
                return _Rows(rows)
            return cursor

    monkeypatch.setattr(
        invariants, "open_readonly", lambda path: WriteAfterStockRead(real_open(path))
    )
    report = check_invariants(shop.state, None)
    assert report.ok, report.checks
    # The reservation did land; a second audit sees it with its stock.
    assert check_invariants(shop.state, None).ok
    assert shop.inventory.execute("SELECT COUNT(*) FROM reservations").fetchone()[0] == 2


class _Rows:
    def __init__(self, rows: list) -> None:
        self._rows = rows

    def fetchall(self) -> list:
        return self._rows
