"""The state of a database store, kept in the memory of each process that serves it, and the changes that keep
it exact.

A store that mirrors its database (PostgreSQL) answers every read from a `Mirror`: the state as it stood after
the last change this process applied, each change numbered (its `position`). A transaction changes the mirror
as it goes and records each change as an operation, a small JSON-able list; at its commit the operations go to
the database (as SQL) and to the other processes (as one notification), which apply them to their own mirror
in the order they were committed. A process that cannot tell whether it has seen every change (a gap in the
numbers, a change too large to send, a lost channel, a rollback after a change) loads the whole mirror again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import orjson

from ..domain.models import ActiveNumber, Location, NumberPool, PurchaseReceipt, PurchaseRecord, Token
from ..domain.store import NOTHING_TO_AWAIT, CommitTicket, MemoryStore
from .groups import CommitGroup, running_loop
from .sql import HELD, SqlStore, _json

Operation = list[Any]
SETTINGS_CHANGES = frozenset({"meta", "clear"})  # what makes a control plane re-read its settings
RESERVED = 1000  # ids of a sequence that hands out ids without a transaction (search fingerprints), reserved at once
RESERVED_SEQUENCES = frozenset({"fingerprint"})


class Mirror(MemoryStore):
    """A `MemoryStore` with a position (the number of the last change applied), and the operations that change
    it. Pools keep their place when changed, as a database orders them (by when each was first added)."""

    def __init__(self, position: int = 0) -> None:
        super().__init__()
        self.position = position

    def put_pool(self, pool: NumberPool) -> None:
        pools = self._pools.setdefault(pool.location_id, [])
        for index, kept in enumerate(pools):
            if kept.id == pool.id:
                pools[index] = pool
                return
        pools.append(pool)

    def set_sequence(self, kind: str, value: int) -> None:
        self._sequences[kind] = value

    def sequence(self, kind: str) -> int:
        return self._sequences.get(kind, 0)

    def apply(self, operation: Operation) -> None:
        """One change another process made (an operation of `changes`)."""
        kind, *args = operation
        if kind == "location":
            self.put_location(Location(**args[0]))
        elif kind == "token":
            value, location_id, scopes = args
            self.put_token(Token(value, location_id, frozenset(scopes)))
        elif kind == "number":
            location_id, record = args
            self.add_active_number(location_id, ActiveNumber(**record))
        elif kind == "pool":
            self.put_pool(NumberPool(**args[0]))
        elif kind == "purchase":
            location_id, fingerprint_id, digest, receipt = args
            record = PurchaseRecord(location_id, fingerprint_id, digest, PurchaseReceipt.from_record(receipt))
            self.put_purchase(record)
        elif kind == "sequence":
            self.set_sequence(args[0], args[1])
        elif kind == "meta":
            self.set_meta(args[0], args[1])
        elif kind == "clear":
            self.clear()
        else:
            raise ValueError(f"unknown change {kind!r}")


# -- the operations, as a transaction records them ------------------------------------------------------


def location_changed(location: Location) -> Operation:
    return ["location", asdict(location)]


def token_changed(token: Token) -> Operation:
    return ["token", token.value, token.location_id, sorted(token.scopes)]


def number_added(location_id: str, record: dict[str, Any]) -> Operation:
    """`record`: the number's `to_record()`, made once for the SQL and the operation."""
    return ["number", location_id, record]


def pool_changed(pool: NumberPool) -> Operation:
    return ["pool", asdict(pool)]


def purchase_kept(record: PurchaseRecord, receipt: dict[str, Any]) -> Operation:
    """`receipt`: the receipt's `to_record()`."""
    return ["purchase", record.location_id, record.fingerprint_id, record.request_digest, receipt]


def sequence_moved(kind: str, value: int) -> Operation:
    return ["sequence", kind, value]


def meta_set(key: str, value: str) -> Operation:
    return ["meta", key, value]


def cleared() -> Operation:
    return ["clear"]


class MirroredStore(SqlStore):
    """The state methods of a database store that serves reads from its mirror: each read from the mirror
    (`_serving()`: caught up, or 503), each change to the mirror, recorded as an operation, and queued as SQL for
    the transaction's commit (`_run`). A subclass provides the transaction (which catches the mirror up under the
    write lock and sends the changes at commit), and `_serving`."""

    def __init__(self, dialect: Any) -> None:
        super().__init__(dialect)
        self._mirror = Mirror()
        self._stale = True  # the mirror must be loaded afresh before it serves
        self._settings_dirty = False  # another process changed settings since changed_elsewhere() last said
        self._reserved: dict[str, tuple[int, int]] = {}  # sequence -> (last handed out, last reserved)
        self._reserve_lock = threading.Lock()
        self._local = threading.local()  # the transaction under way: its SQL (`pending`) and operations (`ops`)
        self._group: CommitGroup | None = None  # this turn's group: open, the transactions of requests join it
        self._tail: CommitGroup | None = None  # the newest group not committed yet (open, being committed, failed)

    counts_held = True  # keeps the SQL store's `held:` counters (the mirror counts a location's numbers itself)

    def _serving(self) -> Mirror:
        raise NotImplementedError

    @property
    def _apply_lock(self) -> Any:
        """Held while a change is applied to the mirror (re-entrant: a transaction holds it too)."""
        raise NotImplementedError

    def _in_transaction(self) -> bool:
        """Whether this thread is in a transaction whose mirror needs no lock to read (caught up at its start,
        changed only by it)."""
        return False

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Reads from the mirror that agree with each other (no change is applied meanwhile): no database."""
        if self._in_transaction():
            yield
            return
        self._serving()
        with self._apply_lock:
            self._local.reading = True
            try:
                yield
            finally:
                self._local.reading = False

    @contextmanager
    def grouped(self) -> Iterator[CommitTicket]:
        """A request served on an event loop: its transactions join the turn's group (`groups.py`), and its ticket
        names the group it must await, if its answer depends on changes not yet committed."""
        if running_loop() is None:
            yield NOTHING_TO_AWAIT
            return
        local = self._local
        ticket = CommitTicket()
        local.ticket = ticket
        seen = self._tail  # a group it may read from, though it ends (or fails) before the request does
        try:
            yield ticket
        finally:
            local.ticket = None
            # The newest group is committed after every other (or fails with them): awaiting it is enough. A
            # failed one is kept as the tail until the mirror that holds its changes is loaded afresh.
            tail = self._tail or seen
            if tail is not None:
                ticket.commit = tail.waiter()

    def _ticket(self) -> CommitTicket | None:
        """The ticket of the request whose transaction this is (None: it commits at once)."""
        return getattr(self._local, "ticket", None)

    def _open_group(self) -> CommitGroup:
        """The turn's group, opened by its first transaction: committed once the turn's requests have run."""
        group = self._group
        if group is None:
            loop = running_loop()
            assert loop is not None  # a ticket is only given on an event loop
            group = self._group = self._tail = CommitGroup()
            loop.call_soon(self._commit_group_soon, group)
        return group

    def _commit_group_soon(self, group: CommitGroup) -> None:
        """At the end of the turn: the group closed, if it is still the open one."""
        with self._group_lock:
            if self._group is group:
                self._close_group()

    @property
    def _group_lock(self) -> Any:
        """Held while the open group changes (joined, closed)."""
        raise NotImplementedError

    def _close_group(self) -> None:
        """Under the group lock: the open group on its way to its commit (committed, or handed to a committer)."""
        raise NotImplementedError

    def _confirm_miss(self) -> bool:
        """A token or location the mirror does not hold may have been made elsewhere an instant ago (a token
        minted on one replica, used at once on another): whether the mirror was behind the database, and has
        caught up. A store whose every change is seen at once says False."""
        return False

    def _number_order(self) -> int:
        """The `seq` of a number added in the transaction under way: what orders a location's numbers."""
        return self.next_sequence("numbers-order")

    def _run(self, sql: str, *args: Any) -> None:
        """A change: sent at the commit of the transaction under way (or of one of its own), with the others."""
        with self.transaction():
            self._local.pending.append((sql, args))

    def _load_mirror(self, query: Callable[[str], list[tuple]], position: int) -> None:
        """The whole mirror, read afresh (in a transaction that holds the write lock: nothing moves meanwhile)."""
        sql = self._sql
        mirror = Mirror(position)
        for key, value in query(sql["all meta"]):
            mirror.set_meta(key, value)
        for (record,) in query(sql["all locations"]):
            mirror.put_location(Location(**orjson.loads(record)))
        for value, location_id, scopes in query(sql["tokens"]):
            mirror.put_token(Token(value, location_id, frozenset(orjson.loads(scopes))))
        for location_id, record in query(sql["all numbers"]):
            mirror.add_active_number(location_id, ActiveNumber(**orjson.loads(record)))
        for (record,) in query(sql["all pools"]):
            mirror.put_pool(NumberPool(**orjson.loads(record)))
        for location_id, fingerprint_id, digest, response in query(sql["all purchases"]):
            receipt = PurchaseReceipt.from_record(orjson.loads(response))
            mirror.put_purchase(PurchaseRecord(location_id, fingerprint_id, digest, receipt))
        for kind, value in query(sql["all sequences"]):
            mirror.set_sequence(kind, int(value))
        self._mirror, self._stale, self._settings_dirty = mirror, False, True
        self._reserved.clear()
        if self._tail is not None and self._tail.settled:
            self._tail = None  # a failed group: what it changed is no longer in the mirror

    def _apply(self, number: int, operations: list[Operation]) -> None:
        """Changes another process committed, numbered `number` (the caller holds the mirror's lock)."""
        mirror = self._mirror
        for operation in operations:
            mirror.apply(operation)
            if operation[0] in SETTINGS_CHANGES:
                self._settings_dirty = True
            if operation[0] == "clear":
                self._reserved.clear()
        mirror.position = number

    def _payload(self, position: int) -> bytes:
        return orjson.dumps({"n": position, "ops": self._local.ops})

    def get_meta(self, key: str) -> str | None:
        return self._serving().get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            super().set_meta(key, value)
            self._mirror.set_meta(key, value)
            self._local.ops.append(meta_set(key, value))

    def clear(self) -> None:
        with self.transaction():
            super().clear()
            self._mirror.clear()
            self._reserved.clear()
            self._local.ops.append(cleared())

    def get_location(self, location_id: str) -> Location | None:
        found = self._serving().get_location(location_id)
        if found is None and self._confirm_miss():
            found = self._mirror.get_location(location_id)
        return found

    def put_location(self, location: Location) -> None:
        with self.transaction():
            super().put_location(location)
            self._mirror.put_location(location)
            self._local.ops.append(location_changed(location))

    def location_ids(self) -> list[str]:
        return self._serving().location_ids()

    def get_token(self, value: str) -> Token | None:
        found = self._serving().get_token(value)
        if found is None and self._confirm_miss():
            found = self._mirror.get_token(value)
        return found

    def put_token(self, token: Token) -> None:
        with self.transaction():
            super().put_token(token)
            self._mirror.put_token(token)
            self._local.ops.append(token_changed(token))

    def tokens(self) -> list[Token]:
        return self._serving().tokens()

    def owner_of(self, phone_number: str) -> str | None:
        return self._serving().owner_of(phone_number)

    def active_numbers(self, location_id: str) -> Sequence[ActiveNumber]:
        return self._serving().active_numbers(location_id)

    def active_number(self, phone_number: str) -> ActiveNumber | None:
        return self._serving().active_number(phone_number)

    def has_active_numbers(self, location_id: str) -> bool:
        return self._serving().has_active_numbers(location_id)

    def count_active_numbers(self, location_id: str) -> int:
        return self._serving().count_active_numbers(location_id)

    def add_active_number(self, location_id: str, number: ActiveNumber) -> None:
        with self.transaction():
            if self.counts_held:
                self.next_sequence(HELD + location_id)  # the count kept beside the numbers, as the SQL store keeps it
            seq = self._number_order()
            record = number.to_record()
            self._run(self._sql["add_active_number"], number.phone_number, location_id, seq, _json(record))
            self._mirror.add_active_number(location_id, number)
            self._local.ops.append(number_added(location_id, record))

    def pools(self, location_id: str) -> list[NumberPool]:
        return self._serving().pools(location_id)

    def put_pool(self, pool: NumberPool) -> None:
        with self.transaction():
            known = any(kept.id == pool.id for kept in self._mirror.pools(pool.location_id))
            seq = 0 if known else self.next_sequence("pools-order")  # a known pool keeps its place (and seq)
            self._run(self._sql["put_pool"], pool.id, pool.location_id, seq, _json(asdict(pool)))
            self._mirror.put_pool(pool)
            self._local.ops.append(pool_changed(pool))

    def get_purchase(self, location_id: str, fingerprint_id: str) -> PurchaseRecord | None:
        return self._serving().get_purchase(location_id, fingerprint_id)

    def put_purchase(self, record: PurchaseRecord) -> None:
        with self.transaction():
            super().put_purchase(record)
            self._mirror.put_purchase(record)
            self._local.ops.append(purchase_kept(record, record.receipt.to_record()))

    def next_sequence(self, kind: str) -> int:
        if kind in RESERVED_SEQUENCES:
            return self._reserved_id(kind)
        with self.transaction():
            value = self._mirror.sequence(kind) + 1
            self._mirror.set_sequence(kind, value)
            self._run(self._sql["set_sequence"], kind, value)
            self._local.ops.append(sequence_moved(kind, value))
            return value

    def _reserved_id(self, kind: str) -> int:
        """The next id of a sequence whose ids are reserved by the thousand (one statement, no lock): unique
        across replicas, and in memory's order on one replica."""
        with self._reserve_lock:
            last, reserved = self._reserved.get(kind, (0, 0))
            if last >= reserved:
                [(reserved,)] = self._rows(self._sql["reserve_sequence"], kind, RESERVED)
                last = reserved - RESERVED
            self._reserved[kind] = (last + 1, reserved)
            return last + 1

    def changed_elsewhere(self) -> bool:
        """Whether another replica changed settings since last asked: known from its notification, no query."""
        self._serving()
        changed, self._settings_dirty = self._settings_dirty, False
        return changed
