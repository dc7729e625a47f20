"""State in PostgreSQL, for one sandbox shared by replicas on several hosts (`--state postgresql://...`).

- Every transaction holds one advisory lock, so that replicas serialise their changes as workers do on SQLite:
  a number is sold once whichever replica takes the request, and a purchase is committed before its 201 is
  sent. A replica keeps the lock on its session (the lease) from one transaction to the next while it has
  writes to make, so that each begins without a round trip, and gives it back after `LEASE_IDLE` without one,
  or hands it on after `LEASE_HOLD` to a replica waiting for it. Reads need no transaction (nor the database:
  see below).
- The schema is versioned (`lcphone_schema`) and migrated at start-up under a session advisory lock, so that
  replicas starting at once migrate it once.
- The purchases an event loop serves in one turn join a group (`groups.py`, D52): each transaction's SQL and
  notification are made on the loop, and a committer thread sends every group waiting as one transaction, in
  one round trip on the lease, while the loop serves other requests; each request answers once its group is
  committed. A failed group fails those after it; the next transaction gives the lease back and starts afresh.
- Each replica serves reads from its own memory (`mirror.py`), kept exact by LISTEN/NOTIFY (`notifications.py`):
  a transaction, after taking the lock, waits until its mirror has applied every change committed before (or
  loads it afresh), reads from it, changes it as it goes, and sends its changes at commit, in one round trip with
  the SQL and one notification to the others. Each change is numbered (`changes` in `lcphone_meta`); a replica
  that sees a gap, or cannot send a change whole, loads its mirror afresh. A replica serves from memory only
  while its database answered its listener within the timeout.
- The database being down, restarting or not answering is `StoreUnavailable` (503 with Retry-After), never a
  500 or a wait past `timeout`: connect, pool and statement timeouts on the server's side, and a watchdog that
  cuts a connection whose call outlives the timeout (a server that accepts but does not answer). After a
  failure, requests fail fast (no request waits on a database known to be away); a probe in a thread of its own
  tries again every `RETRY_AFTER` seconds, each try bounded by the timeout, and service resumes when one answers.
  Nothing that waits on the database runs without the timeout, the pool's own checks included.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import orjson
import psycopg
import psycopg.sql
from psycopg import conninfo as libpq
from psycopg_pool import ConnectionPool, PoolTimeout

from ..domain.store import CAUGHT_UP
from ..errors import StateFileError, StoreUnavailable
from .groups import CommitGroup
from .mirror import Mirror, MirroredStore
from .notifications import Listener
from .sql import Dialect

T = TypeVar("T")
NESTED = nullcontext()  # a transaction inside another: nothing to do
SCHEMA_VERSION = 2
# Advisory locks: (purpose, the schema's hash), so that sandboxes in other schemas of one database never wait
# on each other's.
WRITE_LOCK = 0x6C637001
MIGRATION_LOCK = 0x6C637002
SETUP_LOCK = 0x6C637003
LEASE_IDLE = 0.005  # seconds a replica keeps the write lock after its last transaction, for the next one
LEASE_HOLD = 0.02  # seconds it keeps it at most before handing it on to a replica waiting for it
RETRY_AFTER = 1  # seconds a client is told to wait, and the store waits before trying a lost database again
DEFAULT_TIMEOUT = 5.0
NOTIFY_LIMIT = 7900  # bytes of a notification's payload (PostgreSQL's limit is 8000): past it, "load afresh"
POSITION = "changes"  # the key, in lcphone_meta, of the number of the last change committed

# Each migration takes the schema from the version before it to its own.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE lcphone_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO lcphone_meta (key, value) VALUES ('generation', '0');
    CREATE TABLE lcphone_locations (
        id TEXT PRIMARY KEY, seq BIGINT GENERATED ALWAYS AS IDENTITY, record TEXT NOT NULL);
    CREATE TABLE lcphone_tokens (
        value TEXT PRIMARY KEY, seq BIGINT GENERATED ALWAYS AS IDENTITY, location_id TEXT, scopes TEXT NOT NULL);
    CREATE TABLE lcphone_numbers (
        phone_number TEXT PRIMARY KEY, location_id TEXT NOT NULL, seq BIGINT NOT NULL, record TEXT NOT NULL);
    CREATE INDEX lcphone_numbers_by_location ON lcphone_numbers (location_id, seq);
    CREATE TABLE lcphone_pools (
        id TEXT PRIMARY KEY, location_id TEXT NOT NULL, seq BIGINT NOT NULL, record TEXT NOT NULL);
    CREATE INDEX lcphone_pools_by_location ON lcphone_pools (location_id, seq);
    CREATE TABLE lcphone_purchases (
        location_id TEXT NOT NULL, fingerprint_id TEXT NOT NULL, digest TEXT NOT NULL, response TEXT NOT NULL,
        PRIMARY KEY (location_id, fingerprint_id));
    CREATE TABLE lcphone_sequences (kind TEXT PRIMARY KEY, value BIGINT NOT NULL);
    """,
    2: """
    CREATE TABLE lcphone_rate_counters (key TEXT PRIMARY KEY, started DOUBLE PRECISION NOT NULL, count BIGINT NOT NULL);
    INSERT INTO lcphone_meta (key, value) VALUES ('changes', '0') ON CONFLICT (key) DO NOTHING;
    """,
}
DIALECT = Dialect(placeholder="%s", prefix="lcphone_", insertion_order="seq")


def literal(value: object) -> str:
    """A value as an SQL literal, for the statements a commit sends as one message: text as an escape string
    (right whatever standard_conforming_strings says), numbers as written, None as NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if "\x00" in text:
        raise StoreUnavailable("a NUL character cannot be stored")  # refused at the edge (a 400) before this
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def redacted(url: str) -> str:
    """The URL without its password: what the banner, the health check and errors show."""
    try:
        parts = libpq.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an invalid URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    schema = re.search(r"search_path=([^\s,]+)", str(parts.get("options", "")))
    where = f" (schema {schema.group(1)})" if schema else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname', '')}{where}"


SEARCH_PATH = re.compile(r"-c\s*search_path=(\S+)")


def refuse_system_schema(schema: str) -> None:
    """PostgreSQL's own schemas (pg_catalog, information_schema, pg_toast, any pg_*) keep no sandbox's state."""
    if schema == "information_schema" or schema.startswith("pg_"):
        raise StateFileError(
            f"{schema} is a system schema of PostgreSQL: name a schema of your own in the URL's search_path "
            "(?options=-csearch_path%3Dmy_sandbox)"
        )


def quoted_search_path(options: str) -> str:
    """The URL's options with each schema of a `search_path` quoted, so that it is taken exactly as written
    (`STORM1` is not `storm1`); a system schema first is refused."""

    def quote(found: re.Match[str]) -> str:
        names = [name[1:-1].replace('""', '"') if name[:1] == name[-1:] == '"' and len(name) > 1 else name
                 for name in found.group(1).split(",")]  # fmt: skip
        if names and names[0] and names[0] not in ("$user", '"$user"'):
            refuse_system_schema(names[0])
        listed = ",".join(name if name == "$user" else '"' + name.replace('"', '""') + '"' for name in names if name)
        return f"-c search_path={listed}"

    return SEARCH_PATH.sub(quote, options)


def connect_options(url: str, timeout: float, name: str) -> dict[str, Any]:
    """How every connection is made: the server's own limits (below the watchdog's), keepalives, a name."""
    try:
        url_options = str(libpq.conninfo_to_dict(url).get("options") or "")  # a search_path, say: kept
    except psycopg.ProgrammingError:
        url_options = ""
    url_options = quoted_search_path(url_options)
    millis = int(timeout * 1000)
    return {
        "connect_timeout": max(1, round(timeout)),
        "application_name": f"lcphone {name}".strip()[:63],
        "options": f"{url_options} -c statement_timeout={millis} -c lock_timeout={millis} "
        f"-c idle_in_transaction_session_timeout={millis * 6}".strip(),
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": millis,
    }


class Watchdog:
    """Cuts the connection of a call that outlives its deadline, so that no request waits on a silent server.

    Shutting the socket down wakes the thread blocked on it with an error, which becomes StoreUnavailable.
    """

    def __init__(self) -> None:
        self._deadlines: list[tuple[float, int, psycopg.Connection]] = []
        self._active: set[int] = set()
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cut: set[int] = set()  # the connections cut at their deadline (by id), until guarded again

    @contextmanager
    def guard(self, connection: psycopg.Connection, timeout: float) -> Iterator[None]:
        """`timeout` seconds for what runs inside; past them the connection is cut (`OperationalError`), and
        `cut_by_watchdog(connection)` says so."""
        ticket = next(self._ids)
        with self._lock:
            heapq.heappush(self._deadlines, (time.monotonic() + timeout, ticket, connection))
            self._active.add(ticket)
            self._cut.discard(id(connection))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="lcphone-postgres-watchdog", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._active.discard(ticket)

    def cut_by_watchdog(self, connection: psycopg.Connection) -> bool:
        with self._lock:
            return id(connection) in self._cut

    def _watch(self) -> None:
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            with self._lock:
                expired = []
                while self._deadlines and (self._deadlines[0][0] <= now or self._deadlines[0][1] not in self._active):
                    _, ticket, connection = heapq.heappop(self._deadlines)
                    if ticket in self._active:
                        expired.append(connection)
                        self._cut.add(id(connection))
            for connection in expired:
                _cut(connection)


def _cut(connection: psycopg.Connection) -> None:
    with contextlib.suppress(OSError, psycopg.Error):
        descriptor = connection.pgconn.socket
        with socket.socket(fileno=socket.dup(descriptor)) as sock:
            sock.shutdown(socket.SHUT_RDWR)


class PostgresStore(MirroredStore):
    """The `Store` interface (`domain/store.py`) over a PostgreSQL database."""

    shared = True
    counts_held = False  # no counter beside the mirror's count: one row less updated by every purchase

    def __init__(
        self,
        url: str,
        timeout: float = DEFAULT_TIMEOUT,
        pool_size: int = 10,
        name: str = "",
        fail_fast_for: float = RETRY_AFTER,
    ) -> None:
        super().__init__(DIALECT)
        self.url = url
        self.fail_fast_for = fail_fast_for  # after a failure, seconds between the probe's tries
        self.description = redacted(url)
        self.timeout = timeout
        self._watchdog = Watchdog()
        self._down = False  # a failure seen, and the probe has not reached the database since
        self._closed = False
        self._probe: threading.Thread | None = None
        self._probe_lock = threading.Lock()
        self._last_error = ""
        self._schema_key = 0
        self._mirror_lock = threading.RLock()  # held by a transaction, and while a change is applied
        self._writer_lock = threading.RLock()  # held by a transaction, from before it takes the lease
        self._lease: psycopg.Connection | None = None  # the connection whose session holds the write lock
        self._lease_since = 0.0  # when it took it (monotonic)
        self._lease_used = 0.0  # when a transaction last ended on it
        self._lease_taken = threading.Event()
        self._lease_lost = False  # a commit failed on it: given back by the next transaction, after the others
        # Group commit: the lock of the open group, of those closed (queued) and of those being sent (in flight),
        # which the committer thread sends on the lease; it never takes the writer lock (a transaction may wait).
        self._pipeline = threading.Condition(threading.Lock())
        self._queued: list[CommitGroup] = []
        self._in_flight: list[CommitGroup] = []
        self._committer: threading.Thread | None = None
        self._channel = ""
        self._listener: Listener | None = None
        self.schema = "public"
        self._connect_options = connect_options(url, timeout, name)
        self._check_reachable()
        self._pool = self._new_pool(pool_size)
        try:
            self._pool.open(wait=True, timeout=timeout)
            self._migrate()
            self._channel = f"lcphone_changes_{self._schema_key & 0xFFFFFFFF:08x}"
            self._listener = Listener(self, self._channel, self._received)
            threading.Thread(target=self._keep_lease, name="lcphone-postgres-lease", daemon=True).start()
            with self.transaction():
                pass  # loads the mirror
        except psycopg.Error as error:  # a schema it may not create, say: one line, not a traceback
            self.close()
            raise StateFileError(f"cannot use {self.description}: {' '.join(str(error).split())}") from None
        except BaseException:
            self.close()
            raise

    # -- connections ----------------------------------------------------------------------

    def _new_pool(self, size: int) -> ConnectionPool:
        return ConnectionPool(
            self.url,
            min_size=1,
            max_size=size,
            timeout=self.timeout,
            kwargs={"autocommit": True, **self._connect_options},
            reconnect_timeout=24 * 3600,  # keep trying: the database comes back
            name="lcphone",
            open=False,
        )

    def _check_reachable(self) -> None:
        """At start-up: the exact reason the database cannot be used, in one line."""
        try:
            psycopg.connect(self.url, autocommit=True, **self._connect_options).close()
        except psycopg.OperationalError as error:
            reason = " ".join(str(error).split())
            raise StoreUnavailable(f"cannot use {self.description}: {reason}") from None
        except psycopg.ProgrammingError as error:
            raise StateFileError(f"not a PostgreSQL URL ({error})") from None

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        """The database is away: requests fail at once from now on, until the probe finds it back."""
        reason = " ".join(str(error).split()) or type(error).__name__
        with self._probe_lock:
            self._last_error = reason
            self._down = True
            if self._probe is None or not self._probe.is_alive():
                self._probe = threading.Thread(
                    target=self._probe_until_back, name="lcphone-postgres-probe", daemon=True
                )
                self._probe.start()
        return StoreUnavailable(f"{self.description} is unavailable: {reason}", RETRY_AFTER)

    def _probe_until_back(self) -> None:
        """In a thread of its own: one try every `fail_fast_for` seconds, each bounded by the timeout."""
        while not self._closed:
            time.sleep(self.fail_fast_for)
            try:
                connection = psycopg.connect(self.url, autocommit=True, **self._connect_options)
            except psycopg.Error as error:
                self._last_error = " ".join(str(error).split()) or type(error).__name__
                continue
            try:
                with self._watchdog.guard(connection, self.timeout):
                    connection.execute("SELECT 1")
            except psycopg.Error as error:
                self._last_error = " ".join(str(error).split()) or type(error).__name__
                continue
            finally:
                with contextlib.suppress(psycopg.Error):
                    connection.close()
            with self._probe_lock:
                self._down = False
                self._probe = None
            return

    @property
    def available(self) -> bool:
        """False from a failure until the probe reached the database again."""
        return not self._down

    def _checkout(self) -> psycopg.Connection:
        if self._down:
            raise StoreUnavailable(f"{self.description} is unavailable: {self._last_error}", RETRY_AFTER)
        try:
            return self._pool.getconn()
        except PoolTimeout as error:
            raise self._unavailable(error) from None

    def _checkin(self, connection: psycopg.Connection) -> None:
        # A broken connection is discarded by the pool and replaced in the background.
        with contextlib.suppress(psycopg.Error):
            self._pool.putconn(connection)

    def _attempt(self, work: Callable[[psycopg.Connection], T]) -> tuple[psycopg.Connection, T]:
        """`work` on a pooled connection, retried on another where one was stale (a database that restarted
        closed it while idle: it fails at once); never after a call cut at its deadline, which would wait again.
        The connection stays checked out."""
        for attempt in range(self._pool.max_size + 1):
            connection = self._checkout()
            try:
                with self._watchdog.guard(connection, self.timeout):
                    return connection, work(connection)
            except psycopg.OperationalError as error:
                self._checkin(connection)
                stale = connection.broken and not self._watchdog.cut_by_watchdog(connection)
                if not stale or attempt == self._pool.max_size:
                    raise self._unavailable(error) from None
            except BaseException:
                self._checkin(connection)
                raise
        raise AssertionError("unreachable")

    def _call(self, work: Callable[[psycopg.Connection], T]) -> T:
        """`work` on the transaction's connection, or on a pooled one."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection, result = self._attempt(work)
            self._checkin(connection)
            return result
        try:
            with self._watchdog.guard(connection, self.timeout):
                return work(connection)
        except psycopg.OperationalError as error:
            raise self._unavailable(error) from None

    def _rows(self, sql: str, *args: Any) -> list[tuple]:
        return self._call(lambda connection: connection.execute(sql, args).fetchall())

    def _take_lease(self, connection: psycopg.Connection) -> int:
        """The write lock, held by this session (the lease), and the number of the last change committed: one
        message, one round trip (the position is read once the lock is held). A lease held too long is handed on
        in the same message: the replicas waiting for it are granted it before this one's request."""
        key = self._schema_key
        handing_on = f"SELECT pg_advisory_unlock({WRITE_LOCK}, {key}); " if connection is self._lease else ""
        cursor = connection.execute(
            f"{handing_on}SELECT pg_advisory_lock({WRITE_LOCK}, {self._schema_key}); "
            f"SELECT value FROM lcphone_meta WHERE key = '{POSITION}'",
            prepare=False,
        )
        while cursor.nextset():
            pass
        rows = cursor.fetchall()
        return int(rows[0][0]) if rows else 0

    def _leased(self) -> tuple[psycopg.Connection, int]:
        """The connection that holds the write lock, and the position the transaction starts from. While this
        replica holds the lease, no other can have committed: its mirror's position is the database's, and the
        transaction needs no round trip to begin."""
        if self._down:
            raise StoreUnavailable(f"{self.description} is unavailable: {self._last_error}", RETRY_AFTER)
        if self._lease_lost:  # a commit failed on it: its session starts over, from the database's position
            self._drop_lease()
        lease = self._lease
        if lease is not None and not lease.broken and time.monotonic() - self._lease_since < LEASE_HOLD:
            return lease, self._mirror.position
        if lease is not None and not lease.broken:
            try:
                with self._watchdog.guard(lease, self.timeout):
                    position = self._take_lease(lease)
            except psycopg.OperationalError as error:
                self._drop_lease()
                raise self._unavailable(error) from None
            self._lease_since = time.monotonic()
            return lease, position
        self._drop_lease()
        connection, position = self._attempt(self._take_lease)
        self._lease, self._lease_since = connection, time.monotonic()
        self._lease_taken.set()
        return connection, position

    def _drop_lease(self) -> None:
        """The write lock given back, its connection back in the pool; where it cannot be given back, the session
        is ended, which gives it back (a pooled session must never keep it)."""
        lease, self._lease, self._lease_lost = self._lease, None, False
        if lease is None:
            return
        if not lease.broken:
            try:
                with self._watchdog.guard(lease, self.timeout):
                    if lease.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        lease.execute("ROLLBACK")
                    lease.execute(f"SELECT pg_advisory_unlock({WRITE_LOCK}, {self._schema_key})")
            except psycopg.Error:
                with contextlib.suppress(psycopg.Error):
                    lease.close()
        self._checkin(lease)

    def _keep_lease(self) -> None:
        """In a thread of its own: the lease given back once no transaction used it for `LEASE_IDLE` seconds, so
        that another replica's write waits that long at most after this one's last."""
        while not self._closed:
            self._lease_taken.wait(1.0)
            self._lease_taken.clear()
            while self._lease is not None and not self._closed:
                time.sleep(LEASE_IDLE)
                if time.monotonic() - self._lease_used < LEASE_IDLE or not self._writer_lock.acquire(blocking=False):
                    continue
                try:
                    idle = time.monotonic() - self._lease_used >= LEASE_IDLE and not self._pipeline_busy()
                    if self._lease is not None and idle:
                        self._drop_lease()
                finally:
                    self._writer_lock.release()

    def transaction(self) -> AbstractContextManager[None]:
        """The write lock, a mirror caught up with every change committed before, and at the end one round trip
        with the changes, their notification and COMMIT. Nested: part of the outer transaction."""
        if getattr(self._local, "active", False):
            return NESTED
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        local = self._local
        grouping = self._ticket() is not None  # a request on the event loop: its changes join the turn's group
        with self._writer_lock:  # one transaction of this replica at a time: they share the lease
            piped = grouping and self._may_pipe()
            try:
                if piped:
                    # Groups of this replica are not committed yet: it holds the lease, and its mirror, which
                    # holds their changes, is where the transaction starts. Its SQL goes to the group: it needs
                    # no connection (a query of its own takes a pooled one).
                    connection, position = None, self._mirror.position
                    self._mirror_lock.acquire()
                else:
                    self._drain()  # what this replica sent first: the transaction starts from the database
                    connection, position = self._leased()
                    self._caught_up(position)  # returns holding the mirror lock
                local.active, local.connection, local.pending, local.ops = True, connection, [], []
                local.position, local.added = position, 0
                try:
                    yield
                    if grouping:
                        self._join_group(position)
                    else:
                        self._commit(position)
                except BaseException:
                    if local.ops:
                        # The mirror holds changes that were not committed: loaded afresh by the next transaction
                        # or request, once what was decided before them is committed.
                        self._stale = True
                    raise
                finally:
                    self._mirror_lock.release()
            except BaseException:
                if not piped:
                    self._drain()
                    self._drop_lease()  # rolled back; after a failure, the next transaction starts from the database
                raise
            finally:
                local.active, local.connection, local.pending, local.ops = False, None, None, None
                self._lease_used = time.monotonic()

    # -- group commit ------------------------------------------------------------------------

    def _may_pipe(self) -> bool:
        """Under the writer lock: whether a transaction may start from the mirror, after groups of this replica
        not committed yet. Only while it holds the lease, nothing has failed, and the lease is not due to be
        handed on (after what was sent, D51)."""
        with self._pipeline:
            return (
                self._busy()
                and not self._stale
                and not self._lease_lost
                and self._lease is not None
                and time.monotonic() - self._lease_since < LEASE_HOLD
            )

    def _pipeline_busy(self) -> bool:
        """Whether groups of this replica are open, waiting or being sent (it keeps the lease until they are
        committed)."""
        with self._pipeline:
            return self._busy()

    def _busy(self) -> bool:
        """Under the pipeline's lock: `_pipeline_busy`."""
        return self._group is not None or bool(self._queued) or bool(self._in_flight)

    def _join_group(self, position: int) -> None:
        """The transaction's changes, as SQL and one notification, into the turn's group: sent with the others."""
        local = self._local
        if not local.ops:
            return  # it changed nothing: its request waits for what it read, if that is not committed yet
        number = position + 1
        statements = [sql % tuple(map(literal, args)) for sql, args in local.pending]
        statements.append(self._notify(number))
        with self._pipeline:
            other = self._group
            if other is not None and other.thread != threading.get_ident():
                self._close_group()  # another event loop's turn (in-process use from several threads)
            group = self._open_group()
            group.statements.extend(statements)
            group.last_position = number
            group.transactions += 1
        local.ops = []  # the group holds them: if it fails, the mirror is loaded afresh
        self._mirror.position = number

    def _notify(self, number: int) -> str:
        message = self._payload(number)
        if len(message) > NOTIFY_LIMIT:
            message = orjson.dumps({"n": number})  # too large to send: the others load afresh
        return f"SELECT pg_notify({literal(self._channel)}, {literal(message.decode())})"

    @property
    def _group_lock(self) -> threading.Condition:
        return self._pipeline

    def _close_group(self) -> None:
        """Under the pipeline's lock: the open group queued for the committer (started on first use)."""
        group, self._group = self._group, None
        if group is not None:
            self._queued.append(group)
        self._pipeline.notify_all()
        if self._committer is None or not self._committer.is_alive():
            self._committer = threading.Thread(target=self._send_groups, name="lcphone-postgres-commit", daemon=True)
            self._committer.start()

    def _send_groups(self) -> None:
        """In a thread of its own: each time, every group waiting, in one transaction on the lease (one round trip);
        the groups that close meanwhile wait for the next. It never takes the writer lock, nor drops the lease: a
        failure marks it lost, and the next transaction (which holds the writer lock) gives it back."""
        while True:
            with self._pipeline:
                while not self._queued and not self._closed:
                    self._pipeline.wait(1.0)
                if not self._queued:
                    return
                self._in_flight = batch = self._queued
                self._queued = []
            try:
                error = self._send(batch)
            except BaseException as crash:  # never left in flight: everyone waiting would wait for ever
                error = StoreUnavailable(f"{self.description}: {crash!r}", RETRY_AFTER)
            with self._pipeline:
                if error is None:
                    for group in batch:
                        group.settle()
                    if self._tail in batch:
                        self._tail = None
                else:
                    self._fail_pipeline_locked(error, batch)
                self._in_flight = []
                self._lease_used = time.monotonic()
                self._pipeline.notify_all()

    def _send(self, batch: list[CommitGroup]) -> StoreUnavailable | None:
        """One message: BEGIN, every change, the last one's number, COMMIT. None when committed; after a failure,
        the session is out of its transaction (or broken)."""
        lease = self._lease
        if lease is None or lease.broken:
            return StoreUnavailable(f"{self.description} is unavailable: the lease was lost", RETRY_AFTER)
        statements = ["BEGIN"]
        for group in batch:
            statements.extend(group.statements)
        last = batch[-1].last_position
        statements.append(f"UPDATE lcphone_meta SET value = '{last}' WHERE key = '{POSITION}'")
        statements.append("COMMIT")
        try:
            with self._watchdog.guard(lease, self.timeout):
                lease.execute("; ".join(statements).encode(), prepare=False)
        except psycopg.Error as error:  # the database away, or a statement refused (then nothing of it is kept)
            if not lease.broken:
                with contextlib.suppress(psycopg.Error), self._watchdog.guard(lease, self.timeout):
                    lease.execute("ROLLBACK")
            if isinstance(error, psycopg.OperationalError) and lease.broken:
                return self._unavailable(error)
            return StoreUnavailable(f"{self.description}: {' '.join(str(error).split())}", RETRY_AFTER)
        return None

    def _fail_pipeline_locked(self, error: StoreUnavailable, batch: list[CommitGroup]) -> None:
        """Under the pipeline's lock: the batch failed, and every group after it (decided on top of it): answered
        503, nothing acknowledged. The mirror, which holds their changes, is loaded afresh, and the lease given
        back, by the next transaction (the failed groups stay the tail until then)."""
        self._stale = True
        self._lease_lost = True
        for group in [*batch, *self._queued]:
            group.settle(error)
        self._queued = []
        if self._group is not None:
            self._group.settle(error)
            self._group = None

    def _drain(self) -> None:
        """Under the writer lock: until every group of this replica is committed or failed (the open one sent at
        once). Past a bound (a committer that cannot finish), what is left fails."""
        with self._pipeline:
            if self._group is not None:
                self._close_group()
            deadline = time.monotonic() + self.timeout * 3
            while self._queued or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    error = StoreUnavailable(f"{self.description}: a commit did not finish", RETRY_AFTER)
                    self._fail_pipeline_locked(error, self._in_flight)
                    self._in_flight = []
                    break
                self._pipeline.wait(left)

    def _number_order(self) -> int:
        """From the change's own number: ordered as committed, unique, and no counter row updated by every
        purchase (a row that every transaction updates is what PostgreSQL handles worst)."""
        self._local.added += 1
        return (self._local.position + 1) * 1_000_000 + self._local.added

    @property
    def _apply_lock(self) -> threading.RLock:
        return self._mirror_lock

    def _in_transaction(self) -> bool:
        return getattr(self._local, "active", False)

    def _caught_up(self, position: int) -> None:
        """Inside the transaction, under the write lock: the mirror at `position` (the notifications of the changes
        committed before are in flight; else, or past the timeout, loaded afresh). Returns holding the mirror lock."""
        listener = self._listener
        assert listener is not None
        with listener.lock:
            self._mirror_lock.acquire()
            try:
                deadline = time.monotonic() + self.timeout
                while not self._stale and self._mirror.position < position and listener.connection is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    listener.drain(wait=min(left, 0.05))
                if self._stale or self._mirror.position != position:
                    self._call(lambda connection: self._load(connection, position))
            except BaseException:
                self._mirror_lock.release()
                raise

    def _load(self, connection: psycopg.Connection, position: int) -> None:
        """The whole mirror, read afresh in the transaction (under the write lock: nothing moves meanwhile)."""
        self._load_mirror(lambda sql: connection.execute(sql).fetchall(), position)

    def _commit(self, position: int) -> None:
        local = self._local
        if not local.ops:
            return  # nothing was begun: the lease is the only lock it held

        def send(connection: psycopg.Connection) -> None:
            # One message: BEGIN, every change, the new position, the notification, COMMIT (values bound
            # client-side).
            statements = ["BEGIN", *(sql % tuple(map(literal, args)) for sql, args in local.pending)]
            statements.append(f"UPDATE lcphone_meta SET value = '{position + 1}' WHERE key = '{POSITION}'")
            statements.append(self._notify(position + 1))
            statements.append("COMMIT")
            connection.execute("; ".join(statements).encode(), prepare=False)

        self._call(send)
        local.ops = []  # committed: the mirror holds them rightly
        self._mirror.position = position + 1

    def _received(self, payload: str) -> None:
        """A change another replica committed (or this one: already applied), in commit order."""
        try:
            change = orjson.loads(payload)
            number = int(change["n"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return
        with self._mirror_lock:
            mirror = self._mirror
            if self._stale or number <= mirror.position:
                return
            operations = change.get("ops")
            if number != mirror.position + 1 or operations is None:
                self._stale = True  # a gap, or a change too large to send: loaded afresh before serving
                return
            self._apply(number, operations)

    def _confirm_miss(self) -> bool:
        """The database's position, asked (one query, only on a miss): the mirror caught up to it if behind."""
        local = self._local
        if getattr(local, "active", False) or getattr(local, "reading", False):
            return False  # in a transaction: caught up at its start
        rows = self._rows("SELECT value FROM lcphone_meta WHERE key = %s", POSITION)
        position = int(rows[0][0]) if rows else 0
        if position <= self._mirror.position:
            return False
        listener = self._listener
        deadline = time.monotonic() + self.timeout
        while self._mirror.position < position and not self._stale and listener and listener.connection:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            listener.drain(wait=min(left, 0.05))
        if self._mirror.position < position:
            self._stale = True  # its notifications late past the timeout: loaded afresh, at once
            with self.transaction():
                pass
        return True

    def mirror_may_be_behind(self) -> None:
        """The listener (re)connected: changes may have been missed."""
        self._stale = True

    def _serving(self) -> Mirror:
        """The mirror, for a read: caught up with what has arrived; 503 unless the database answered within the
        timeout on a channel that lost nothing."""
        local = self._local
        if getattr(local, "active", False) or getattr(local, "reading", False):
            return self._mirror  # in a transaction (caught up at its start, changed only by it), or reading
        if CAUGHT_UP.get() and not self._stale:
            return self._mirror  # a request caught up at its start
        listener = self._listener
        if self._down or listener is None or not listener.fresh():
            why = self._last_error if self._down else (listener.error if listener else "not started")
            raise StoreUnavailable(f"{self.description} is unavailable: {why}", RETRY_AFTER)
        if listener.readable():
            listener.drain()
            if not listener.fresh():
                raise StoreUnavailable(f"{self.description} is unavailable: {listener.error}", RETRY_AFTER)
        if self._stale:
            with self.transaction():
                pass  # loads it afresh
        return self._mirror

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One replica at a time sets up or joins the state (a session advisory lock on its own connection)."""
        connection = self._checkout()
        try:
            with self._watchdog.guard(connection, self.timeout * 6):
                connection.execute(f"SELECT pg_advisory_lock({SETUP_LOCK}, {self._schema_key})")
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error), self._watchdog.guard(connection, self.timeout):
                    connection.execute(f"SELECT pg_advisory_unlock({SETUP_LOCK}, {self._schema_key})")
        except psycopg.OperationalError as error:
            raise self._unavailable(error) from None
        finally:
            self._checkin(connection)

    # -- schema ----------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._pool.connection() as connection:
            self._schema_key = self._use_schema(connection)
            connection.execute(f"SELECT pg_advisory_lock({MIGRATION_LOCK}, {self._schema_key})")
            try:
                connection.execute("CREATE TABLE IF NOT EXISTS lcphone_schema (version INTEGER NOT NULL)")
                rows = connection.execute("SELECT version FROM lcphone_schema").fetchall()
                current = rows[0][0] if rows else 0
                if current > SCHEMA_VERSION:
                    raise StateFileError(
                        f"{self.description} has state format {current}; this lcphone reads format "
                        f"{SCHEMA_VERSION}: upgrade lcphone, or use another database"
                    )
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    with connection.transaction():
                        connection.execute(MIGRATIONS[version].encode())
                        if version == 1:
                            connection.execute("INSERT INTO lcphone_schema (version) VALUES (1)")
                        else:
                            connection.execute("UPDATE lcphone_schema SET version = %s", (version,))
            finally:
                connection.execute(f"SELECT pg_advisory_unlock({MIGRATION_LOCK}, {self._schema_key})")

    def _use_schema(self, connection: psycopg.Connection) -> int:
        """The schema the tables go in: the first of the search_path (`?options=-csearch_path%3Dname` in the URL
        gives each sandbox its own in one database), created if missing. Returns its lock key."""
        [(path,)] = connection.execute("SHOW search_path").fetchall()
        first = path.split(",")[0].strip()
        if first and first != '"$user"' and first != "$user":
            name = first[1:-1].replace('""', '"') if first[:1] == first[-1:] == '"' and len(first) > 1 else first
            refuse_system_schema(name)
            # Replicas starting at once may both create it: the one that loses the race finds it made.
            with contextlib.suppress(psycopg.errors.UniqueViolation):
                connection.execute(
                    psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(psycopg.sql.Identifier(name))
                )
        [(schema, key)] = connection.execute("SELECT current_schema(), hashtext(current_schema())").fetchall()
        if schema is None:
            raise StateFileError(f"{self.description}: its search_path ({path}) names no schema to keep state in")
        refuse_system_schema(schema)  # a role's or database's own search_path may name one too
        self.schema = schema
        return int(key)

    def health(self) -> dict[str, object]:
        """At once while the database is known to be away; otherwise one query, within the timeout."""
        started = time.perf_counter()
        try:
            self._serving()
            [(version,)] = self._rows("SHOW server_version")
        except StoreUnavailable as error:
            return {"store": self.description, "ok": False, "error": error.detail}
        stats = self._pool.get_stats()
        return {
            "store": self.description,
            "ok": True,
            "latencyMs": round((time.perf_counter() - started) * 1000, 3),
            "server": f"PostgreSQL {version}",
            "schemaVersion": SCHEMA_VERSION,
            "pool": {"size": stats.get("pool_size", 0), "available": stats.get("pool_available", 0)},
            "timeoutSeconds": self.timeout,
        }

    def close(self) -> None:
        with self._writer_lock:
            self._drain()
            self._closed = True
            with self._pipeline:
                self._pipeline.notify_all()
            if self._listener is not None:
                self._listener.close()
            self._drop_lease()
        self._pool.close()
