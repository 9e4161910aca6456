"""Each service's own SQLite database (WAL), shared by that service's replicas only."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 5000


def open_db(path: Path, schema: str = "") -> sqlite3.Connection:
    """Open (creating) the database at `path` in WAL mode and apply `schema` (idempotent
    DDL). Autocommit mode: transactions are explicit `BEGIN IMMEDIATE ... COMMIT`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a committed transaction survives a killed process (not a power cut).
    db.execute("PRAGMA synchronous=NORMAL")
    if schema:
        # CREATE ... IF NOT EXISTS and INSERT OR IGNORE: replicas starting together agree.
        db.executescript(schema)
    return db


class ServiceDatabase:
    """A service's connection: opened (schema applied, then `seed` run) by the app's
    startup hook and closed by its shutdown hook, so it is opened once per process."""

    def __init__(
        self,
        path: Path,
        schema: str,
        seed: Callable[[sqlite3.Connection], object] | None = None,
    ) -> None:
        self.path = path
        self.schema = schema
        self.seed = seed
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"database {self.path} is not open (app not started)")
        return self._conn

    async def open(self) -> None:
        conn = open_db(self.path, self.schema)
        if self.seed is not None:
            self.seed(conn)
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection for audits (the invariant check)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    db.row_factory = sqlite3.Row
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front (no upgrade deadlocks
    between replicas), committed on success and rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
