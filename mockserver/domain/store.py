"""The interface of the sandbox's state (a store), and the store in memory.

The domain's rules (`PhoneSystem`) and the control plane talk to a store only
through these methods, inside `transaction()`, so that the store in memory
(the default, and the fixture's) and the stores of `mockserver.store`
(SQLite, `--state FILE`; PostgreSQL, `--state postgresql://...`) are
interchangeable. "State" is what is kept; a "store" is what keeps it.

Besides the resources (locations, tokens, numbers, pools, purchases), a store
keeps the sandbox's settings as named documents (`meta`): the scenario, the
faults, the rate-limit policy. So every worker process that shares a store
answers the same. The inventory of purchasable numbers is not state: it is
rebuilt from the seed.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Protocol

from .models import ActiveNumber, Location, NumberPool, PurchaseRecord, Token


class CommitTicket:
    """What a request awaits before it answers: the commit of the changes its answer depends on, where its
    store commits several requests' transactions together (None: nothing to wait for)."""

    __slots__ = ("commit",)

    def __init__(self) -> None:
        self.commit: Awaitable[None] | None = None


NOTHING_TO_AWAIT = CommitTicket()  # the ticket of a store that commits each transaction at once (never set)
_NO_GROUP = nullcontext(NOTHING_TO_AWAIT)  # reusable: it holds no state

# True while a request whose store was caught up at its start is served (set by the app around each request): a
# store shared with other processes reads from what it holds without asking again whether they changed it, so
# that a request's reads agree with each other and cost no check each.
CAUGHT_UP: ContextVar[bool] = ContextVar("lcphone_store_caught_up", default=False)


class Store(Protocol):
    persistent: bool  # whether the state outlives the process
    shared: bool  # whether other hosts share it: a replica joins the state it finds, changing nothing
    description: str  # for the banner and the health check: "memory", "sqlite:/path", ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Held while a process sets up or joins the state: the others sharing the store wait."""
        ...

    def transaction(self) -> AbstractContextManager[None]: ...
    def reading(self) -> AbstractContextManager[None]:
        """Held while a request reads several things that must agree (changes nothing): cheaper than a
        transaction where the store can tell them apart."""
        ...

    def grouped(self) -> AbstractContextManager[CommitTicket]:
        """Held while a request on an event loop is served: its transactions may commit later, with others
        (group commit); the ticket says what to await before answering."""
        ...

    def clear(self) -> None: ...
    def get_location(self, location_id: str) -> Location | None: ...
    def put_location(self, location: Location) -> None: ...
    def location_ids(self) -> list[str]: ...
    def get_token(self, value: str) -> Token | None: ...
    def put_token(self, token: Token) -> None: ...
    def tokens(self) -> list[Token]: ...
    def owner_of(self, phone_number: str) -> str | None: ...
    def active_numbers(self, location_id: str) -> Sequence[ActiveNumber]:
        """The location's numbers, in the order they were added; read-only (a store may hand out what it holds,
        rather than copy a list that grows with every purchase)."""
        ...

    def active_number(self, phone_number: str) -> ActiveNumber | None:
        """A number some location holds."""
        ...

    def has_active_numbers(self, location_id: str) -> bool: ...
    def count_active_numbers(self, location_id: str) -> int: ...
    def add_active_number(self, location_id: str, number: ActiveNumber) -> None: ...
    def pools(self, location_id: str) -> list[NumberPool]: ...
    def put_pool(self, pool: NumberPool) -> None: ...
    def get_purchase(self, location_id: str, fingerprint_id: str) -> PurchaseRecord | None: ...
    def put_purchase(self, record: PurchaseRecord) -> None: ...
    def next_sequence(self, kind: str) -> int: ...
    def count_request(self, key: str, start: float, now: float, period: float) -> tuple[float, int]:
        """One more request on a rate-limit counter, started again (at `start`) once `period` seconds passed since
        it started: (when it started, its count). Atomic across the processes sharing the store."""
        ...

    def requests_counted(self, key: str, now: float, period: float) -> int: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def changed_elsewhere(self) -> bool: ...
    def health(self) -> dict[str, object]: ...
    def close(self) -> None: ...


class MemoryStore:
    """State in dictionaries, guarded by one re-entrant lock (the sandbox may serve from several threads)."""

    persistent = False
    shared = False
    description = "memory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._meta: dict[str, str] = {}  # settings survive clear(): loading a scenario does not forget them
        self.clear()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            yield

    def exclusive(self) -> AbstractContextManager[None]:
        return self.transaction()

    def reading(self) -> AbstractContextManager[None]:
        return self.transaction()

    def grouped(self) -> AbstractContextManager[CommitTicket]:
        return _NO_GROUP  # memory's changes are whole when made

    def clear(self) -> None:
        with self._lock:
            self._locations: dict[str, Location] = {}
            self._tokens: dict[str, Token] = {}
            self._owners: dict[str, str] = {}
            self._held: dict[str, ActiveNumber] = {}
            self._numbers: dict[str, list[ActiveNumber]] = {}
            self._pools: dict[str, list[NumberPool]] = {}
            self._purchases: dict[tuple[str, str], PurchaseRecord] = {}
            self._sequences: dict[str, int] = {}
            self._rate_counters: dict[str, tuple[float, int]] = {}

    def get_location(self, location_id: str) -> Location | None:
        return self._locations.get(location_id)

    def put_location(self, location: Location) -> None:
        self._locations[location.id] = location

    def location_ids(self) -> list[str]:
        return list(self._locations)

    def get_token(self, value: str) -> Token | None:
        return self._tokens.get(value)

    def put_token(self, token: Token) -> None:
        self._tokens[token.value] = token

    def tokens(self) -> list[Token]:
        return list(self._tokens.values())

    def owner_of(self, phone_number: str) -> str | None:
        return self._owners.get(phone_number)

    def active_numbers(self, location_id: str) -> Sequence[ActiveNumber]:
        # The list itself, not a copy: numbers are only ever appended, and a page is read, not the whole list.
        return self._numbers.get(location_id, ())

    def active_number(self, phone_number: str) -> ActiveNumber | None:
        return self._held.get(phone_number)

    def has_active_numbers(self, location_id: str) -> bool:
        return bool(self._numbers.get(location_id))

    def count_active_numbers(self, location_id: str) -> int:
        return len(self._numbers.get(location_id, ()))

    def add_active_number(self, location_id: str, number: ActiveNumber) -> None:
        self._owners[number.phone_number] = location_id
        self._held[number.phone_number] = number
        self._numbers.setdefault(location_id, []).append(number)

    def pools(self, location_id: str) -> list[NumberPool]:
        return list(self._pools.get(location_id, ()))

    def put_pool(self, pool: NumberPool) -> None:
        pools = self._pools.setdefault(pool.location_id, [])
        pools[:] = [p for p in pools if p.id != pool.id] + [pool]

    def get_purchase(self, location_id: str, fingerprint_id: str) -> PurchaseRecord | None:
        return self._purchases.get((location_id, fingerprint_id))

    def put_purchase(self, record: PurchaseRecord) -> None:
        self._purchases[(record.location_id, record.fingerprint_id)] = record

    def next_sequence(self, kind: str) -> int:
        with self._lock:
            value = self._sequences.get(kind, 0) + 1
            self._sequences[kind] = value
            return value

    def count_request(self, key: str, start: float, now: float, period: float) -> tuple[float, int]:
        with self._lock:
            started, count = self._rate_counters.get(key, (start, 0))
            if now - started >= period:
                started, count = start, 0
            self._rate_counters[key] = (started, count + 1)
            return started, count + 1

    def requests_counted(self, key: str, now: float, period: float) -> int:
        started, count = self._rate_counters.get(key, (now, 0))
        return count if now - started < period else 0

    def get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._meta[key] = value

    def changed_elsewhere(self) -> bool:
        return False  # one process: every change went through this object

    def health(self) -> dict[str, object]:
        return {"store": self.description, "ok": True}

    def close(self) -> None:
        pass
