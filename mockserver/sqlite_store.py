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
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from .models import ActiveNumber, Location, NumberPool, PurchaseReceipt, PurchaseRecord, Token
from .store import NumberRecords
from .store import StateFileError as StateFileError

SCHEMA_VERSION = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locations (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (value TEXT PRIMARY KEY, location_id TEXT, scopes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS numbers (
    phone_number TEXT PRIMARY KEY, location_id TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS numbers_by_location ON numbers (location_id, seq);
CREATE TABLE IF NOT EXISTS pools (
    id TEXT PRIMARY KEY, location_id TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pools_by_location ON pools (location_id, seq);
CREATE TABLE IF NOT EXISTS purchases (
    location_id TEXT NOT NULL, fingerprint_id TEXT NOT NULL, digest TEXT NOT NULL, response TEXT NOT NULL,
    PRIMARY KEY (location_id, fingerprint_id));
CREATE TABLE IF NOT EXISTS sequences (kind TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_HELD = "held:"  # sequences counting each location's numbers

_TABLES = ("locations", "tokens", "numbers", "pools", "purchases", "sequences")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqliteStore:
    """The `Store` interface over one SQLite file (see `store.py`)."""

    persistent = True
    shared = False  # one host: its workers are started by one master, which sets the state up first

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = f"sqlite:{self.path}"
        if self.path.is_dir():
            raise StateFileError(f"{self.path} is a folder, not a state file")
        if not self.path.parent.is_dir():
            raise StateFileError(f"{self.path}: the folder {self.path.parent} does not exist")
        self._lock = threading.RLock()
        self._depth = 0
        self._numbers = NumberRecords()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL's commit reaches the OS before the answer goes: a killed sandbox loses nothing it answered (an OS
            # crash may lose the last commits, which FULL would keep, at several times the cost of a purchase).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._check_integrity()
            self._db.executescript(SCHEMA)
            self._check_schema_version()
        except sqlite3.DatabaseError as error:
            raise StateFileError(f"{self.path} is not a usable SQLite state file ({error})") from None
        self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]

    def _check_integrity(self) -> None:
        verdict = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise StateFileError(f"{self.path} is damaged (SQLite quick_check: {verdict}); use another state file")

    def _check_schema_version(self) -> None:
        rows = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        if not rows:
            used = self._db.execute("SELECT COUNT(*) FROM locations").fetchone()[0]
            if used:
                raise StateFileError(f"{self.path} was written by an older lcphone; start with a new state file")
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(rows[0][0]) == 2:  # format 2 counted a location's numbers each time: counters kept since
            with self.transaction():
                self._db.execute(
                    "INSERT OR REPLACE INTO sequences (kind, value) "
                    "SELECT ? || location_id, count(*) FROM numbers GROUP BY location_id",
                    (_HELD,),
                )
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        elif int(rows[0][0]) != SCHEMA_VERSION:
            raise StateFileError(
                f"{self.path} has state format {rows[0][0]}; this lcphone reads format "
                f"{SCHEMA_VERSION}: start with a new state file"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def exclusive(self) -> AbstractContextManager[None]:
        return self.transaction()

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

    def changed_elsewhere(self) -> bool:
        """Whether another connection (another worker) committed since the last time this was asked."""
        with self._lock:
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            changed, self._data_version = version != self._data_version, version
            return changed

    def health(self) -> dict[str, object]:
        try:
            self._query("SELECT 1")
        except sqlite3.Error as error:
            return {"store": self.description, "ok": False, "error": str(error)}
        return {"store": self.description, "ok": True}

    # -- settings and lifecycle --------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", key)
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value)

    def clear(self) -> None:
        with self.transaction():
            for table in _TABLES:
                self._db.execute(f"DELETE FROM {table}")

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
        self._write(
            "INSERT OR REPLACE INTO tokens (value, location_id, scopes) VALUES (?, ?, ?)",
            token.value,
            token.location_id,
            _json(sorted(token.scopes)),
        )

    def tokens(self) -> list[Token]:
        rows = self._query("SELECT value, location_id, scopes FROM tokens ORDER BY rowid")
        return [Token(value, location, frozenset(orjson.loads(scopes))) for value, location, scopes in rows]

    def owner_of(self, phone_number: str) -> str | None:
        rows = self._query("SELECT location_id FROM numbers WHERE phone_number = ?", phone_number)
        return rows[0][0] if rows else None

    def active_numbers(self, location_id: str) -> list[ActiveNumber]:
        rows = self._query("SELECT record FROM numbers WHERE location_id = ? ORDER BY seq", location_id)
        return self._numbers.numbers(row[0] for row in rows)

    def has_active_numbers(self, location_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM numbers WHERE location_id = ? LIMIT 1", location_id))

    def count_active_numbers(self, location_id: str) -> int:
        # A counter kept beside the numbers: counting them would read them all, on every purchase.
        rows = self._query("SELECT value FROM sequences WHERE kind = ?", _HELD + location_id)
        return rows[0][0] if rows else 0

    def add_active_number(self, location_id: str, number: ActiveNumber) -> None:
        with self.transaction():
            self._next(_HELD + location_id)
            seq = self._next("numbers-order")
            self._db.execute(
                "INSERT INTO numbers (phone_number, location_id, seq, record) VALUES (?, ?, ?, ?)",
                (number.phone_number, location_id, seq, _json(number.to_record())),
            )

    def pools(self, location_id: str) -> list[NumberPool]:
        rows = self._query("SELECT record FROM pools WHERE location_id = ? ORDER BY seq", location_id)
        return [NumberPool(**orjson.loads(row[0])) for row in rows]

    def put_pool(self, pool: NumberPool) -> None:
        with self.transaction():
            rows = self._db.execute("SELECT seq FROM pools WHERE id = ?", (pool.id,)).fetchall()
            seq = rows[0][0] if rows else self._next("pools-order")
            self._db.execute(
                "INSERT OR REPLACE INTO pools (id, location_id, seq, record) VALUES (?, ?, ?, ?)",
                (pool.id, pool.location_id, seq, _json(asdict(pool))),
            )

    def get_purchase(self, location_id: str, fingerprint_id: str) -> PurchaseRecord | None:
        rows = self._query(
            "SELECT digest, response FROM purchases WHERE location_id = ? AND fingerprint_id = ?",
            location_id,
            fingerprint_id,
        )
        if not rows:
            return None
        receipt = PurchaseReceipt.from_record(orjson.loads(rows[0][1]))
        return PurchaseRecord(location_id, fingerprint_id, rows[0][0], receipt)

    def put_purchase(self, record: PurchaseRecord) -> None:
        self._write(
            "INSERT INTO purchases (location_id, fingerprint_id, digest, response) VALUES (?, ?, ?, ?)",
            record.location_id,
            record.fingerprint_id,
            record.request_digest,
            _json(record.receipt.to_record()),
        )

    def _next(self, kind: str) -> int:
        self._db.execute(
            "INSERT INTO sequences (kind, value) VALUES (?, 1) ON CONFLICT(kind) DO UPDATE SET value = value + 1",
            (kind,),
        )
        return self._db.execute("SELECT value FROM sequences WHERE kind = ?", (kind,)).fetchone()[0]

    def next_sequence(self, kind: str) -> int:
        with self.transaction():
            return self._next(kind)
