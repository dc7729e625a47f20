"""State in SQLite, for a sandbox that must outlive its process and be shared by several workers.

Every write happens in one `BEGIN IMMEDIATE` transaction, so that concurrent
workers serialise on the file: a number is sold once, an acknowledged purchase
is committed before its 201 is sent, and a `kill -9` loses nothing that was
answered. WAL journaling keeps readers from blocking the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from .models import ActiveNumber, Location, NumberPool, PurchaseRecord, Token

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locations (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (value TEXT PRIMARY KEY, location_id TEXT, scopes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS numbers (
    phone_number TEXT PRIMARY KEY, location_id TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS numbers_by_location ON numbers (location_id, seq);
CREATE TABLE IF NOT EXISTS pools (id TEXT PRIMARY KEY, location_id TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pools_by_location ON pools (location_id, seq);
CREATE TABLE IF NOT EXISTS purchases (
    location_id TEXT NOT NULL, fingerprint_id TEXT NOT NULL, digest TEXT NOT NULL, response TEXT NOT NULL,
    PRIMARY KEY (location_id, fingerprint_id));
CREATE TABLE IF NOT EXISTS sequences (kind TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_TABLES = ("locations", "tokens", "numbers", "pools", "purchases", "sequences")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqliteStore:
    """The `Store` interface over one SQLite file (see `store.py`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                self._db.execute("COMMIT")

    def _query(self, sql: str, *args: Any) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, *args: Any) -> None:
        with self.transaction():
            self._db.execute(sql, args)

    # -- lifecycle: the state survives restarts, so loading a scenario happens once --------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", key)
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value)

    def clear(self) -> None:
        with self.transaction():
            for table in _TABLES:
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    # -- the Store interface -----------------------------------------------------------
    def get_location(self, location_id: str) -> Location | None:
        rows = self._query("SELECT record FROM locations WHERE id = ?", location_id)
        return Location(**orjson.loads(rows[0][0])) if rows else None

    def put_location(self, location: Location) -> None:
        self._write("INSERT OR REPLACE INTO locations (id, record) VALUES (?, ?)", location.id, _json(asdict(location)))

    def location_ids(self) -> list[str]:
        return [row[0] for row in self._query("SELECT id FROM locations ORDER BY rowid")]

    def get_token(self, value: str) -> Token | None:
        rows = self._query("SELECT location_id, scopes FROM tokens WHERE value = ?", value)
        return Token(value, rows[0][0], frozenset(orjson.loads(rows[0][1]))) if rows else None

    def put_token(self, token: Token) -> None:
        self._write("INSERT OR REPLACE INTO tokens (value, location_id, scopes) VALUES (?, ?, ?)",
                    token.value, token.location_id, _json(sorted(token.scopes)))

    def owner_of(self, phone_number: str) -> str | None:
        rows = self._query("SELECT location_id FROM numbers WHERE phone_number = ?", phone_number)
        return rows[0][0] if rows else None

    def active_numbers(self, location_id: str) -> list[ActiveNumber]:
        rows = self._query("SELECT record FROM numbers WHERE location_id = ? ORDER BY seq", location_id)
        return [ActiveNumber(**orjson.loads(row[0])) for row in rows]

    def add_active_number(self, location_id: str, number: ActiveNumber) -> None:
        with self.transaction():
            seq = self._next("numbers-order")
            self._db.execute("INSERT INTO numbers (phone_number, location_id, seq, record) VALUES (?, ?, ?, ?)",
                             (number.phone_number, location_id, seq, _json(number.to_record())))

    def pools(self, location_id: str) -> list[NumberPool]:
        rows = self._query("SELECT record FROM pools WHERE location_id = ? ORDER BY seq", location_id)
        return [NumberPool(**orjson.loads(row[0])) for row in rows]

    def put_pool(self, pool: NumberPool) -> None:
        with self.transaction():
            rows = self._db.execute("SELECT seq FROM pools WHERE id = ?", (pool.id,)).fetchall()
            seq = rows[0][0] if rows else self._next("pools-order")
            self._db.execute("INSERT OR REPLACE INTO pools (id, location_id, seq, record) VALUES (?, ?, ?, ?)",
                             (pool.id, pool.location_id, seq, _json(asdict(pool))))

    def get_purchase(self, location_id: str, fingerprint_id: str) -> PurchaseRecord | None:
        rows = self._query("SELECT digest, response FROM purchases WHERE location_id = ? AND fingerprint_id = ?",
                           location_id, fingerprint_id)
        return PurchaseRecord(location_id, fingerprint_id, rows[0][0], orjson.loads(rows[0][1])) if rows else None

    def put_purchase(self, record: PurchaseRecord) -> None:
        self._write("INSERT INTO purchases (location_id, fingerprint_id, digest, response) VALUES (?, ?, ?, ?)",
                    record.location_id, record.fingerprint_id, record.request_digest, _json(record.response))

    def _next(self, kind: str) -> int:
        self._db.execute("INSERT INTO sequences (kind, value) VALUES (?, 1) "
                         "ON CONFLICT(kind) DO UPDATE SET value = value + 1", (kind,))
        return self._db.execute("SELECT value FROM sequences WHERE kind = ?", (kind,)).fetchone()[0]

    def next_sequence(self, kind: str) -> int:
        with self.transaction():
            return self._next(kind)
