"""The `Store` interface written once over SQL, for the stores that keep state in a database.

SQLite and PostgreSQL differ in how they connect, how a transaction serialises with the other processes,
their placeholders and table names; those are the `Dialect` and the three primitives a store provides
(`_rows`, `_run`, `transaction`). Every state method, and the mapping between rows and the domain's objects,
is written here, once: a new state method is one method of this class.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from ..domain.models import ActiveNumber, Location, NumberPool, PurchaseReceipt, PurchaseRecord, Token

HELD = "held:"  # sequences counting each location's numbers
TABLES = ("locations", "tokens", "numbers", "pools", "purchases", "sequences", "rate_counters")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Dialect:
    placeholder: str  # "?" or "%s"
    prefix: str  # of every table's name
    insertion_order: str  # the column that orders locations and tokens as they were added

    def statements(self) -> dict[str, str]:
        """Every statement of the state methods, written once for this dialect."""
        p, t, order = self.placeholder, self.prefix, self.insertion_order
        return {
            "get_meta": f"SELECT value FROM {t}meta WHERE key = {p}",
            "set_meta": f"INSERT INTO {t}meta (key, value) VALUES ({p}, {p}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            "get_location": f"SELECT record FROM {t}locations WHERE id = {p}",
            "put_location": f"INSERT INTO {t}locations (id, record) VALUES ({p}, {p}) "
            "ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            "location_ids": f"SELECT id FROM {t}locations ORDER BY {order}",
            "get_token": f"SELECT location_id, scopes FROM {t}tokens WHERE value = {p}",
            "put_token": f"INSERT INTO {t}tokens (value, location_id, scopes) VALUES ({p}, {p}, {p}) "
            "ON CONFLICT (value) DO UPDATE SET location_id = excluded.location_id, scopes = excluded.scopes",
            "tokens": f"SELECT value, location_id, scopes FROM {t}tokens ORDER BY {order}",
            "owner_of": f"SELECT location_id FROM {t}numbers WHERE phone_number = {p}",
            "active_numbers": f"SELECT record FROM {t}numbers WHERE location_id = {p} ORDER BY seq",
            "active_number": f"SELECT record FROM {t}numbers WHERE phone_number = {p}",
            "has_active_numbers": f"SELECT 1 FROM {t}numbers WHERE location_id = {p} LIMIT 1",
            "count": f"SELECT value FROM {t}sequences WHERE kind = {p}",
            "add_active_number": f"INSERT INTO {t}numbers (phone_number, location_id, seq, record) "
            f"VALUES ({p}, {p}, {p}, {p})",
            "pools": f"SELECT record FROM {t}pools WHERE location_id = {p} ORDER BY seq",
            "pool_seq": f"SELECT seq FROM {t}pools WHERE id = {p}",
            "put_pool": f"INSERT INTO {t}pools (id, location_id, seq, record) VALUES ({p}, {p}, {p}, {p}) "
            "ON CONFLICT (id) DO UPDATE SET location_id = excluded.location_id, record = excluded.record",
            "get_purchase": f"SELECT digest, response FROM {t}purchases "
            f"WHERE location_id = {p} AND fingerprint_id = {p}",
            "put_purchase": f"INSERT INTO {t}purchases (location_id, fingerprint_id, digest, response) "
            f"VALUES ({p}, {p}, {p}, {p})",
            "next_sequence": f"INSERT INTO {t}sequences (kind, value) VALUES ({p}, 1) "
            f"ON CONFLICT (kind) DO UPDATE SET value = {t}sequences.value + 1 RETURNING value",
            "set_sequence": f"INSERT INTO {t}sequences (kind, value) VALUES ({p}, {p}) "
            "ON CONFLICT (kind) DO UPDATE SET value = excluded.value",
            "reserve_sequence": f"INSERT INTO {t}sequences (kind, value) VALUES ({p}, {p}) "
            f"ON CONFLICT (kind) DO UPDATE SET value = {t}sequences.value + excluded.value RETURNING value",
            "all meta": f"SELECT key, value FROM {t}meta",
            "all locations": f"SELECT record FROM {t}locations ORDER BY {order}",
            "all numbers": f"SELECT location_id, record FROM {t}numbers ORDER BY seq",
            "all pools": f"SELECT record FROM {t}pools ORDER BY seq",
            "all purchases": f"SELECT location_id, fingerprint_id, digest, response FROM {t}purchases",
            "all sequences": f"SELECT kind, value FROM {t}sequences",
            # A rate-limit counter: started again (with `start`) once `period` seconds have passed since it started.
            "count_request": f"INSERT INTO {t}rate_counters (key, started, count) VALUES ({p}, {p}, 1) "
            f"ON CONFLICT (key) DO UPDATE SET "
            f"count = CASE WHEN {p} - {t}rate_counters.started >= {p} THEN 1 ELSE {t}rate_counters.count + 1 END, "
            f"started = CASE WHEN {p} - {t}rate_counters.started >= {p} THEN excluded.started "
            f"ELSE {t}rate_counters.started END RETURNING started, count",
            "requests_counted": f"SELECT started, count FROM {t}rate_counters WHERE key = {p}",
            **{f"clear {table}": f"DELETE FROM {t}{table}" for table in TABLES},
        }


class NumberRecords:
    """Active numbers read from a database, kept by their stored record: a number does not change once added, so
    the same record is the same number, parsed once (and its rendered forms kept with it). Bounded."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._known: dict[str, ActiveNumber] = {}

    def numbers(self, records: Iterable[str]) -> list[ActiveNumber]:
        known = self._known
        found = []
        for record in records:
            number = known.get(record)
            if number is None:
                number = ActiveNumber(**orjson.loads(record))
                if len(known) >= self.capacity:
                    del known[next(iter(known))]
                known[record] = number
            found.append(number)
        return found


class SqlStore:
    """The state methods over SQL; a subclass connects, and provides `_rows`, `_run` and `transaction`."""

    persistent = True
    description = ""

    def __init__(self, dialect: Dialect) -> None:
        self._sql = dialect.statements()
        self._numbers = NumberRecords()

    # -- what a database store provides --------------------------------------------------
    def _rows(self, sql: str, *args: Any) -> list[tuple]:
        """The rows a query answers (in the transaction under way, if any)."""
        raise NotImplementedError

    def _run(self, sql: str, *args: Any) -> None:
        """A change, in the transaction under way or in one of its own."""
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def reading(self) -> AbstractContextManager[None]:
        return self.transaction()

    def _settings_changed(self) -> None:
        """Inside a transaction that changed settings: what tells other processes to re-read them (if needed)."""

    # -- settings and lifecycle ----------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._rows(self._sql["get_meta"], key)
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._run(self._sql["set_meta"], key, value)
            self._settings_changed()

    def clear(self) -> None:
        with self.transaction():
            for table in TABLES:
                self._run(self._sql[f"clear {table}"])
            self._settings_changed()

    # -- locations and tokens ------------------------------------------------------------
    def get_location(self, location_id: str) -> Location | None:
        rows = self._rows(self._sql["get_location"], location_id)
        return Location(**orjson.loads(rows[0][0])) if rows else None

    def put_location(self, location: Location) -> None:
        self._run(self._sql["put_location"], location.id, _json(asdict(location)))

    def location_ids(self) -> list[str]:
        return [row[0] for row in self._rows(self._sql["location_ids"])]

    def get_token(self, value: str) -> Token | None:
        rows = self._rows(self._sql["get_token"], value)
        return Token(value, rows[0][0], frozenset(orjson.loads(rows[0][1]))) if rows else None

    def put_token(self, token: Token) -> None:
        self._run(self._sql["put_token"], token.value, token.location_id, _json(sorted(token.scopes)))

    def tokens(self) -> list[Token]:
        rows = self._rows(self._sql["tokens"])
        return [Token(value, location, frozenset(orjson.loads(scopes))) for value, location, scopes in rows]

    # -- numbers and pools ---------------------------------------------------------------
    def owner_of(self, phone_number: str) -> str | None:
        rows = self._rows(self._sql["owner_of"], phone_number)
        return rows[0][0] if rows else None

    def active_numbers(self, location_id: str) -> Sequence[ActiveNumber]:
        rows = self._rows(self._sql["active_numbers"], location_id)
        return self._numbers.numbers(row[0] for row in rows)

    def active_number(self, phone_number: str) -> ActiveNumber | None:
        rows = self._rows(self._sql["active_number"], phone_number)
        return self._numbers.numbers([rows[0][0]])[0] if rows else None

    def has_active_numbers(self, location_id: str) -> bool:
        return bool(self._rows(self._sql["has_active_numbers"], location_id))

    def count_active_numbers(self, location_id: str) -> int:
        # A counter kept beside the numbers: counting them would read them all, on every purchase.
        rows = self._rows(self._sql["count"], HELD + location_id)
        return rows[0][0] if rows else 0

    def add_active_number(self, location_id: str, number: ActiveNumber) -> None:
        with self.transaction():
            self.next_sequence(HELD + location_id)
            seq = self.next_sequence("numbers-order")
            self._run(self._sql["add_active_number"], number.phone_number, location_id, seq, _json(number.to_record()))

    def pools(self, location_id: str) -> list[NumberPool]:
        rows = self._rows(self._sql["pools"], location_id)
        return [NumberPool(**orjson.loads(row[0])) for row in rows]

    def put_pool(self, pool: NumberPool) -> None:
        with self.transaction():
            rows = self._rows(self._sql["pool_seq"], pool.id)
            seq = rows[0][0] if rows else self.next_sequence("pools-order")
            self._run(self._sql["put_pool"], pool.id, pool.location_id, seq, _json(asdict(pool)))

    # -- purchases and sequences ---------------------------------------------------------
    def get_purchase(self, location_id: str, fingerprint_id: str) -> PurchaseRecord | None:
        rows = self._rows(self._sql["get_purchase"], location_id, fingerprint_id)
        if not rows:
            return None
        receipt = PurchaseReceipt.from_record(orjson.loads(rows[0][1]))
        return PurchaseRecord(location_id, fingerprint_id, rows[0][0], receipt)

    def put_purchase(self, record: PurchaseRecord) -> None:
        self._run(
            self._sql["put_purchase"],
            record.location_id,
            record.fingerprint_id,
            record.request_digest,
            _json(record.receipt.to_record()),
        )

    def next_sequence(self, kind: str) -> int:
        with self.transaction():
            [(value,)] = self._rows(self._sql["next_sequence"], kind)
            return int(value)

    # -- rate-limit counters (one atomic statement each, outside any transaction) ----------------
    def count_request(self, key: str, start: float, now: float, period: float) -> tuple[float, int]:
        [(started, count)] = self._rows(self._sql["count_request"], key, start, now, period, now, period)
        return float(started), int(count)

    def requests_counted(self, key: str, now: float, period: float) -> int:
        rows = self._rows(self._sql["requests_counted"], key)
        return int(rows[0][1]) if rows and now - float(rows[0][0]) < period else 0
