"""State in SQLite, for a sandbox that must outlive its process and be shared by several workers.

Each worker serves reads from its own memory (`mirror.py`): every transaction appends its changes to the
`changes` table, as operations (what a mirror applies) and as the SQL that brings the tables to them; a worker
that sees another's commit (`PRAGMA data_version`, a cheap check of the file's header) applies the operations it
has not seen, in order, and loads its mirror afresh where it cannot (a gap: changes older than the table keeps).

The tables are written behind the log: a commit writes one row (a page or two of the WAL) where the tables would
take eight, and every `WRITE_BEHIND` changes, in the commit that reaches it, the SQL of the changes since
(`tables_at`) runs in one go, on pages written once for all of them (a worker idle for a second does it too,
and closing does). Loading afresh reads the tables and applies the operations of the changes after them; a
change is deleted only once the tables hold it. A reset (`clear`) is written at once, with what came before it.

Every write happens in a `BEGIN IMMEDIATE` transaction, so that concurrent
workers serialise on the file: a number is sold once, an acknowledged purchase
is committed before its 201 is sent, and a `kill -9` loses nothing that was
answered. The requests an event loop serves in one turn share that transaction,
committed once they have run and before any of them answers (group commit,
`groups.py`, D52). WAL journaling keeps readers from blocking the writer.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import orjson

from ..domain.store import CAUGHT_UP
from ..errors import StateFileError, StoreUnavailable
from .groups import CommitGroup
from .mirror import Mirror, MirroredStore
from .sql import HELD, Dialect

SCHEMA_VERSION = 4
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
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY, ops TEXT NOT NULL, statements TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS tables_at (position INTEGER NOT NULL);
"""
NESTED = nullcontext()  # a transaction inside another: nothing to do
CHECKPOINT_EVERY = 1.0  # seconds
KEPT_CHANGES = 10_000  # a worker further behind than this loads its mirror afresh
WRITE_BEHIND = 256  # changes whose SQL waits in the log before the tables get it
AT_ONCE = frozenset({"clear"})  # a change written to the tables in its own commit (a reset deletes every table)

DIALECT = Dialect(placeholder="?", prefix="", insertion_order="rowid")


class SqliteStore(MirroredStore):
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
        self._owner: int | None = None  # the thread whose transaction is under way
        self._data_version = -1  # of the file, when the mirror last caught up
        self._tables_at = 0  # the last change the tables hold, as last seen (the file's `tables_at` says)
        self._last_commit = 0.0  # when this worker last committed a change (monotonic)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL's commit reaches the OS before the answer goes: a killed sandbox loses nothing it answered (an OS
            # crash may lose the last commits, which FULL would keep, at several times the cost of a purchase).
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints (the WAL copied back into the file, with an fsync) in the commit that fills 1,000 pages,
            # SQLite's own way: in a thread of their own they never completed under sustained writes, and the WAL
            # grew without bound (D48).
            self._db.execute("PRAGMA wal_autocheckpoint=1000")
            self._check_integrity()
            self._db.executescript(SCHEMA)
            self._check_schema_version()
            [(self._tables_at,)] = self._db.execute("SELECT position FROM tables_at").fetchall()
        except sqlite3.DatabaseError as error:
            raise StateFileError(f"{self.path} is not a usable SQLite state file ({error})") from None
        self._stale = True  # loaded at the first read, as the set-up above left the file
        self._closed = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint, name="lcphone-sqlite-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint(self) -> None:
        """Every second, on a connection of its own: the tables brought up to the log if this worker committed
        nothing for that long (under load, commits do it), and a PASSIVE checkpoint, which waits on no one."""
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=1)
        except sqlite3.Error:
            return
        try:
            while not self._closed.wait(CHECKPOINT_EVERY):
                with contextlib.suppress(sqlite3.Error):
                    if self._tables_at < self._mirror.position and time.monotonic() - self._last_commit > 1:
                        self._written_behind(connection)
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    def _check_integrity(self) -> None:
        verdict = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise StateFileError(f"{self.path} is damaged (SQLite quick_check: {verdict}); use another state file")

    def _check_schema_version(self) -> None:
        db = self._db
        rows = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        if not rows:
            used = db.execute("SELECT COUNT(*) FROM locations").fetchone()[0]
            if used:
                raise StateFileError(f"{self.path} was written by an older lcphone; start with a new state file")
            version = SCHEMA_VERSION
        else:
            version = int(rows[0][0])
        if version not in (2, 3, SCHEMA_VERSION):
            raise StateFileError(
                f"{self.path} has state format {version}; this lcphone reads format "
                f"{SCHEMA_VERSION}: start with a new state file"
            )
        if rows and version == SCHEMA_VERSION and db.execute("SELECT 1 FROM tables_at").fetchall():
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            if version == 2:  # format 2 counted a location's numbers each time: counters kept since
                db.execute(
                    "INSERT OR REPLACE INTO sequences (kind, value) "
                    "SELECT ? || location_id, count(*) FROM numbers GROUP BY location_id",
                    (HELD,),
                )
            columns = {row[1] for row in db.execute("PRAGMA table_info(changes)").fetchall()}
            if "statements" not in columns:  # formats 2 and 3 wrote the tables in every commit: they hold it all
                db.execute("ALTER TABLE changes ADD COLUMN statements TEXT NOT NULL DEFAULT '[]'")
            db.execute(
                "INSERT INTO tables_at (position) SELECT (SELECT coalesce(max(seq), 0) FROM changes) "
                "WHERE NOT EXISTS (SELECT 1 FROM tables_at)"
            )
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._close_group()
            with contextlib.suppress(sqlite3.Error):  # else what the log holds is loaded from it next time
                self._written_behind(self._db)
            self._db.close()

    def flush(self) -> None:
        """The tables brought up to every change committed (what an idle second, and closing, do)."""
        with self._lock:
            self._close_group()
            self._written_behind(self._db)

    def _written_behind(self, db: sqlite3.Connection) -> None:
        """`_write_behind` in a write transaction of its own: all of it, or nothing."""
        db.execute("BEGIN IMMEDIATE")
        try:
            self._write_behind(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _write_behind(self, db: sqlite3.Connection) -> None:
        """In a write transaction: the SQL of every change the tables do not hold yet, run in order, and the
        changes that no worker needs any more (older than `KEPT_CHANGES`, held by the tables) deleted."""
        [(held,)] = db.execute("SELECT position FROM tables_at").fetchall()
        last = held
        for seq, statements in db.execute(
            "SELECT seq, statements FROM changes WHERE seq > ? ORDER BY seq", (held,)
        ).fetchall():
            for sql, args in orjson.loads(statements):
                db.execute(sql, args)
            last = seq
        if last != held:
            db.execute("UPDATE tables_at SET position = ?", (last,))
            db.execute("DELETE FROM changes WHERE seq <= ?", (last - KEPT_CHANGES,))
        self._tables_at = last

    def exclusive(self) -> AbstractContextManager[None]:
        return self.transaction()

    def transaction(self) -> AbstractContextManager[None]:
        """`BEGIN IMMEDIATE` (the file's write lock), the mirror caught up with every change committed before, and
        at the end the changes, recorded in `changes` in the same commit. Nested: part of the outer one."""
        if self._owner == threading.get_ident():
            return NESTED
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        ticket = self._ticket()
        with self._lock:
            local, db = self._local, self._db
            group = self._group
            joins = group is not None and ticket is not None and group.thread == threading.get_ident()
            if joins and not db.in_transaction:  # SQLite rolled the group's transaction back itself (a full disk)
                self._fail_group(sqlite3.OperationalError("the transaction was rolled back"))
                joins = False
            elif group is not None and not joins:
                self._close_group()  # anything else commits what the turn's requests changed first
            if not joins:
                db.execute("BEGIN IMMEDIATE")
            self._owner, local.pending, local.ops = threading.get_ident(), [], []
            local.added = 0
            try:
                if not joins or self._stale:
                    self._catch_up()  # within a group, no other worker can have committed: the file is held
                yield
                if ticket is None:
                    self._commit()
                elif self._recorded(joins) or joins:  # it changed something, or the group holds the file anyway
                    self._open_group().transactions += 1
                else:
                    db.execute("COMMIT")  # it changed nothing, and no group holds the file: let it go at once
            except BaseException:
                if local.ops:
                    self._stale = True  # the mirror holds changes that were not committed
                if not joins and db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                local.pending, local.ops, self._owner = None, None, None

    def _number_order(self) -> int:
        """From the change's own number (ordered as committed, unique): no counter row updated by every purchase."""
        self._local.added += 1
        return (self._mirror.position + 1) * 1_000_000 + self._local.added

    def _commit(self) -> None:
        local = self._local
        position = self._record()
        self._db.execute("COMMIT")
        if position:
            local.ops = []  # committed: the mirror holds them rightly
            self._mirror.position = position

    def _record(self) -> int:
        """The transaction's changes as one row of `changes` (the tables written when their turn comes), not yet
        committed: its position, or 0 when it changed nothing."""
        local, db = self._local, self._db
        if not local.ops:
            return 0
        position = self._mirror.position + 1
        if any(operation[0] in AT_ONCE for operation in local.ops):
            self._write_behind(db)  # what came before it first
            for sql, args in local.pending:
                db.execute(sql, args)
            db.execute("INSERT INTO changes (seq, ops) VALUES (?, ?)", (position, self._payload(position)))
            db.execute("UPDATE tables_at SET position = ?", (position,))
            self._tables_at = position
        else:
            db.execute(
                "INSERT INTO changes (seq, ops, statements) VALUES (?, ?, ?)",
                (position, self._payload(position), orjson.dumps(local.pending)),
            )
            if position - self._tables_at >= WRITE_BEHIND:
                self._write_behind(db)
        self._last_commit = time.monotonic()
        return position

    def _recorded(self, joins: bool) -> bool:
        """A grouped transaction's changes recorded in the group's transaction (committed with it): whether it
        changed anything. A failure to record fails the whole group, whose transaction cannot go on."""
        local = self._local
        try:
            position = self._record()
        except sqlite3.Error as error:
            if joins:
                self._fail_group(error)
            raise StoreUnavailable(f"{self.description}: {error}") from None
        if position:
            local.ops = []  # the group holds them: if its commit fails, the mirror is loaded afresh
            self._mirror.position = position
        return bool(position)

    @property
    def _group_lock(self) -> threading.RLock:
        return self._lock

    def _close_group(self) -> None:
        """Under the lock: the open group's one COMMIT, after which its requests answer."""
        group, self._group = self._group, None
        if group is None:
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            self._fail_group(error, group)
            return
        if self._tail is group:
            self._tail = None
        group.settle()

    def _fail_group(self, error: BaseException, group: CommitGroup | None = None) -> None:
        """The group's transaction rolled back: every request waiting on it is answered 503 (nothing was
        acknowledged), and the mirror, which holds its changes, is loaded afresh (the failed group stays the
        tail until then, so that a request that read from it fails too)."""
        group = group or self._group
        if self._group is group:
            self._group = None
        self._stale = True
        with contextlib.suppress(sqlite3.Error):
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        if group is not None:
            group.settle(StoreUnavailable(f"{self.description}: the commit failed ({error})"))

    def _catch_up(self) -> None:
        """Under the lock: the changes other workers committed since, applied; or the mirror loaded afresh."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version and not self._stale:
            return  # no other connection committed since: the mirror holds every change
        self._data_version = version
        mirror = self._mirror
        if not self._stale:
            rows = self._db.execute("SELECT seq, ops FROM changes WHERE seq > ? ORDER BY seq", (mirror.position,))
            for seq, ops in rows.fetchall():
                if seq != self._mirror.position + 1:
                    self._stale = True  # a gap: the changes in between are no longer kept
                    break
                self._apply(seq, orjson.loads(ops)["ops"])
        if self._stale:
            self._load_state()

    def _load_state(self) -> None:
        db = self._db
        in_transaction = db.in_transaction
        if not in_transaction:
            db.execute("BEGIN")  # one snapshot of every table
        try:
            [(held,)] = db.execute("SELECT position FROM tables_at").fetchall()
            self._load_mirror(lambda sql: db.execute(sql).fetchall(), int(held))
            for seq, ops in db.execute("SELECT seq, ops FROM changes WHERE seq > ? ORDER BY seq", (held,)).fetchall():
                self._apply(seq, orjson.loads(ops)["ops"])  # committed, not yet in the tables
        finally:
            if not in_transaction:
                db.execute("COMMIT")

    def _serving(self) -> Mirror:
        """The mirror, caught up with what other workers committed (one `PRAGMA data_version` to know)."""
        local = self._local
        if self._owner == threading.get_ident() or getattr(local, "reading", False):
            return self._mirror  # in a transaction of this thread (caught up at its start), or reading
        if CAUGHT_UP.get() and not self._stale:
            return self._mirror  # a request caught up at its start
        group = self._group
        if group is not None and group.thread == threading.get_ident() and not self._stale:
            return self._mirror  # the turn's group holds the file's write lock: no other worker has committed
        with self._lock:
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version or self._stale:
                self._catch_up()
        return self._mirror

    @property
    def _apply_lock(self) -> threading.RLock:
        return self._lock

    def _rows(self, sql: str, *args: Any) -> list[tuple]:
        with self._lock:
            self._outside_group()
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as error:
                if self._group is not None:  # it ran in the group's transaction, which may be gone
                    self._fail_group(error)
                raise

    def _outside_group(self) -> None:
        """Under the lock, before a statement that no transaction of this thread's turn covers: the open group
        committed first (a statement of a request of the turn goes in with it, and the request awaits it)."""
        group = self._group
        if group is None or group.thread != threading.get_ident():
            if group is not None:
                self._close_group()
            return
        if self._owner != threading.get_ident() and self._ticket() is None:
            self._close_group()

    def health(self) -> dict[str, object]:
        try:
            self._rows("SELECT 1")
        except sqlite3.Error as error:
            return {"store": self.description, "ok": False, "error": str(error)}
        return {"store": self.description, "ok": True}
