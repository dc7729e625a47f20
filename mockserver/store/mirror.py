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

from dataclasses import asdict
from typing import Any

from ..domain.models import ActiveNumber, Location, NumberPool, PurchaseReceipt, PurchaseRecord, Token
from ..domain.store import MemoryStore

Operation = list[Any]


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


def number_added(location_id: str, number: ActiveNumber) -> Operation:
    return ["number", location_id, number.to_record()]


def pool_changed(pool: NumberPool) -> Operation:
    return ["pool", asdict(pool)]


def purchase_kept(record: PurchaseRecord) -> Operation:
    return ["purchase", record.location_id, record.fingerprint_id, record.request_digest, record.receipt.to_record()]


def sequence_moved(kind: str, value: int) -> Operation:
    return ["sequence", kind, value]


def meta_set(key: str, value: str) -> Operation:
    return ["meta", key, value]


def cleared() -> Operation:
    return ["clear"]


SETTINGS_CHANGES = frozenset({"meta", "clear"})  # what makes a control plane re-read its settings
