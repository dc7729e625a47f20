"""How a PostgreSQL replica learns of the changes the others commit: LISTEN on a connection of its own.

The `Listener` holds that connection, in a thread of its own. It receives each committed change as one
notification (PostgreSQL delivers them in commit order) and hands it to the store, which applies it to its
mirror: at the next read or transaction, which drains what has arrived, or at the next heartbeat when idle.
Every `interval` it also asks the database for `SELECT 1`, cut at the store's timeout: the store serves from
memory only while the last answer is younger than the timeout, so that a replica whose database hangs, or which
lost the channel, stops serving what it holds within the timeout (then 503). A lost connection is made
again (every `fail_fast_for` seconds), and the store loads its mirror afresh, having perhaps missed changes.
"""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg
import psycopg.sql

if TYPE_CHECKING:
    from .postgres import PostgresStore


class Listener:
    def __init__(self, store: PostgresStore, channel: str, on_change: Callable[[str], None]) -> None:
        self.store = store
        self.channel = channel
        self.on_change = on_change
        self.lock = threading.RLock()  # taken before the store's mirror lock, never after
        self.interval = max(0.05, min(1.0, store.timeout / 4))
        self.connection: psycopg.Connection | None = None
        self.alive_at = 0.0  # when the last heartbeat that was answered was sent (monotonic)
        self.error = "not connected yet"
        self._beat_at = 0.0
        self._lost_channel = threading.Event()  # wakes the thread to connect again at once
        self._connect()
        self._thread = threading.Thread(target=self._run, name="lcphone-postgres-listener", daemon=True)
        self._thread.start()

    # -- what the store asks ----------------------------------------------------------------------
    def fresh(self) -> bool:
        """Whether the database answered within the timeout, on a channel that has lost nothing since."""
        return self.connection is not None and time.monotonic() - self.alive_at < self.store.timeout

    def readable(self) -> bool:
        connection = self.connection
        if connection is None:
            return False
        try:
            return bool(select.select([connection.pgconn.socket], [], [], 0)[0])
        except (OSError, ValueError, psycopg.Error):
            return True  # closed under us: drain() finds out and says so

    def drain(self, wait: float = 0.0) -> None:
        """Applies the notifications received (waiting up to `wait` seconds for one)."""
        with self.lock:
            connection = self.connection
            if connection is None:
                return
            try:
                pgconn = connection.pgconn
                if wait > 0 and not select.select([pgconn.socket], [], [], wait)[0]:
                    return
                for _ in range(4):  # a closed socket stays readable: its end is read too (the error)
                    pgconn.consume_input()
                    while (notification := pgconn.notifies()) is not None:
                        self.on_change(notification.extra.decode())
                    if not select.select([pgconn.socket], [], [], 0)[0]:
                        break
                if pgconn.status != psycopg.pq.ConnStatus.OK:  # the server closed it (a terminated backend)
                    message = pgconn.error_message.decode(errors="replace")
                    raise psycopg.OperationalError(message or "the channel was closed")
            except (OSError, ValueError, psycopg.Error) as error:
                self._lost(error)

    def close(self) -> None:
        with self.lock:
            if self.connection is not None:
                with contextlib.suppress(psycopg.Error):
                    self.connection.close()
            self.connection = None

    # -- the thread -------------------------------------------------------------------------------
    def _connect(self) -> None:
        store = self.store
        name = f"{store._connect_options['application_name']} listener"[-63:]
        options = {**store._connect_options, "application_name": name}
        connection = psycopg.connect(store.url, autocommit=True, **options)
        connection.add_notify_handler(lambda notification: self.on_change(notification.payload))
        try:
            with store._watchdog.guard(connection, store.timeout):
                connection.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(self.channel)))
        except psycopg.Error:
            connection.close()
            raise
        with self.lock:
            store.mirror_may_be_behind()  # changes may have been missed while there was no channel
            self.connection = connection
            self.alive_at = self._beat_at = time.monotonic()

    def _lost(self, error: BaseException) -> None:
        self.error = " ".join(str(error).split()) or type(error).__name__
        self.close()
        self._lost_channel.set()

    def _heartbeat(self) -> None:
        sent = self._beat_at = time.monotonic()
        with self.lock:
            connection = self.connection
            if connection is None:
                return
            try:
                with self.store._watchdog.guard(connection, self.store.timeout):
                    connection.execute("SELECT 1")  # notifications that come with the answer are handled too
            except psycopg.Error as error:
                self._lost(error)
                return
            self.alive_at = sent

    def _run(self) -> None:
        store = self.store
        while not store._closed:
            connection = self.connection
            if connection is None:
                time.sleep(store.fail_fast_for)
                try:
                    self._connect()
                except psycopg.Error as error:
                    self.error = " ".join(str(error).split()) or type(error).__name__
                continue
            # Not woken by each notification: a read drains what has arrived first (`readable()`), so the thread
            # only drains what an idle replica received, with the heartbeat, and no purchase wakes it.
            if self._lost_channel.wait(max(0.0, self._beat_at + self.interval - time.monotonic())):
                self._lost_channel.clear()
                continue
            if self.readable():
                self.drain()
            self._heartbeat()
        self.close()
