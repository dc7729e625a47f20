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
from pathlib import Path
from typing import Any

from ..errors import StateFileError
from .sql import HELD, Dialect, SqlStore

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
CREATE TABLE IF NOT EXISTS rate_counters (key TEXT PRIMARY KEY, started REAL NOT NULL, count INTEGER NOT NULL);
"""

DIALECT = Dialect(placeholder="?", prefix="", insertion_order="rowid")


class SqliteStore(SqlStore):
    """The `Store` interface (`domain/store.py`) over one SQLite file."""

    shared = False  # one host: its workers are started by one master, which sets the state up first

    def __init__(self, path: str | Path) -> None:
        super().__init__(DIALECT)
        self.path = Path(path)
        self.description = f"sqlite:{self.path}"
        if self.path.is_dir():
            raise StateFileError(f"{self.path} is a folder, not a state file")
        if not self.path.parent.is_dir():
            raise StateFileError(f"{self.path}: the folder {self.path.parent} does not exist")
        self._lock = threading.RLock()
        self._depth = 0
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
                    (HELD,),
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

    def _rows(self, sql: str, *args: Any) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _run(self, sql: str, *args: Any) -> None:
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
            self._rows("SELECT 1")
        except sqlite3.Error as error:
            return {"store": self.description, "ok": False, "error": str(error)}
        return {"store": self.description, "ok": True}
