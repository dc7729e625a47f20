"""Group commit on the stores that keep state in a database (D52): the purchases of one turn of the event loop are
committed together, each answered only once its group is committed; a group that fails answers every request that
waited on it 503 with Retry-After, keeps none of its changes, and leaves nothing behind that a retry trips on.

Requests go straight to the ASGI app, so that every one of a batch reaches the store in the same turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from helpers import LOCATION, SEARCH_DEFAULTS, TOKEN, V3, purchase_body
from mockserver import Sandbox
from mockserver.http.transport import SyncASGITransport
from mockserver.store import open_store
from mockserver.store.groups import CommitGroup

PURCHASE = f"/phone-system/numbers/location/{LOCATION}/purchase"
LISTING = f"/phone-system/numbers/location/{LOCATION}"


async def ask(
    app, method: str, path: str, body: dict | None = None, query: str = "", on_answer=None
) -> tuple[int, Any, dict]:
    """One request through the ASGI app: (status, JSON answer, headers). `on_answer(status)` runs as the answer
    starts to go out."""
    raw = orjson.dumps(body) if body is not None else b""
    headers = [(b"authorization", f"Bearer {TOKEN}".encode()), (b"version", V3.encode())]
    if body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": headers, "http_version": "1.1", "scheme": "http", "server": ("sandbox", 80),
             "client": ("127.0.0.1", 1), "root_path": ""}  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start" and on_answer is not None:
            on_answer(message["status"])
        sent.append(message)

    await app(scope, receive, send)
    start, answer = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], orjson.loads(answer), {k.decode(): v.decode() for k, v in start["headers"]}


def offers(sandbox: Sandbox, count: int) -> list[dict]:
    import httpx

    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        found = client.get(
            f"{LISTING}/available",
            params={**SEARCH_DEFAULTS, "numberTypes": "local,mobile"},
            headers={"Authorization": f"Bearer {TOKEN}", "Version": V3},
        ).json()
    return found["numbers"][:count]


@pytest.fixture
def settled(monkeypatch) -> list[tuple[int, bool]]:
    """Every group settled: (its transactions, whether it committed)."""
    seen: list[tuple[int, bool]] = []
    settle = CommitGroup.settle

    def spy(group: CommitGroup, error=None) -> None:
        if not group.settled:
            seen.append((group.transactions, error is None))
        settle(group, error)

    monkeypatch.setattr(CommitGroup, "settle", spy)
    return seen


def committed(state: str, phone_number: str) -> bool:
    """Whether the database holds the number's purchase, as another connection sees it (committed, then)."""
    if state.startswith("postgresql"):
        import psycopg

        with psycopg.connect(state, autocommit=True) as connection:
            return bool(connection.execute("SELECT 1 FROM lcphone_numbers WHERE phone_number = %s", (phone_number,))
                        .fetchall())  # fmt: skip
    with sqlite3.connect(state) as connection:
        quoted = f'%"{phone_number}"%'
        logged = connection.execute("SELECT count(*) FROM changes WHERE CAST(ops AS TEXT) LIKE ?", (quoted,))
        in_tables = connection.execute("SELECT count(*) FROM numbers WHERE phone_number = ?", (phone_number,))
        return bool(logged.fetchone()[0] or in_tables.fetchone()[0])


def held(state: str) -> set[str]:
    """The numbers the location holds, as a store newly opened on the state reads them."""
    store = open_store(state)
    try:
        return {n.phone_number for n in store.active_numbers(LOCATION)}
    finally:
        store.close()


@contextlib.contextmanager
def failing_commits(sandbox: Sandbox, state: str) -> Iterator[None]:
    """Every commit of a purchase fails until the block ends: SQLite's COMMIT refused, PostgreSQL's insert of a
    number refused by a constraint (its whole transaction rolled back)."""
    store: Any = sandbox.store
    if state.startswith("postgresql"):
        import psycopg

        with psycopg.connect(state, autocommit=True) as connection:
            connection.execute("ALTER TABLE lcphone_numbers ADD CONSTRAINT refused CHECK (false) NOT VALID")
            try:
                yield
            finally:
                connection.execute("ALTER TABLE lcphone_numbers DROP CONSTRAINT refused")
        return

    class RefusesCommit:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "COMMIT" and self.db.in_transaction and store._group is None:
                raise sqlite3.OperationalError("disk I/O error")
            return self.db.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.db, name)

    original = store._db
    store._db = RefusesCommit(original)
    try:
        yield
    finally:
        store._db = original


def test_the_purchases_of_one_turn_are_committed_together(persistent_state: str, settled) -> None:
    sandbox = Sandbox(store=open_store(persistent_state))
    numbers = offers(sandbox, 12)

    seen_committed: list[bool] = []

    async def storm() -> list[tuple[int, Any, dict]]:
        bodies = [purchase_body(n, f"group-{i}") for i, n in enumerate(numbers)]
        return await asyncio.gather(
            *(
                ask(sandbox.app, "POST", PURCHASE, body,
                    on_answer=lambda _, p=body["phoneNumber"]: seen_committed.append(committed(persistent_state, p)))
                for body in bodies
            )
        )  # fmt: skip

    answers = asyncio.run(storm())
    sandbox.store.close()
    assert [status for status, _, _ in answers] == [201] * 12
    assert seen_committed == [True] * 12  # each committed before its 201 went
    groups = [count for count, ok in settled if ok]
    assert sum(groups) == 12 and len(groups) < 12, settled  # together, not one commit each
    assert {n["phoneNumber"] for n in numbers} <= held(persistent_state)  # each committed before its 201


def test_a_group_that_fails_answers_every_waiting_request_503_and_keeps_nothing(persistent_state: str, settled) -> None:
    sandbox = Sandbox(store=open_store(persistent_state))
    numbers = offers(sandbox, 4)
    bodies = [purchase_body(n, f"doomed-{i}") for i, n in enumerate(numbers)]
    bodies.append(purchase_body(numbers[0], "doomed-again"))  # refused as sold: decided on what failed

    async def storm() -> list[tuple[int, Any, dict]]:
        purchases = [ask(sandbox.app, "POST", PURCHASE, body) for body in bodies]
        # read while the purchases are not committed: it must not show them
        return await asyncio.gather(*purchases, ask(sandbox.app, "GET", LISTING, query="pageSize=100"))

    with failing_commits(sandbox, persistent_state):
        answers = asyncio.run(storm())
    for status, answer, headers in answers:
        assert status == 503, answer
        assert answer["message"].startswith("The sandbox's state store is unavailable") and headers["retry-after"]
    assert not any(ok for _, ok in settled)
    assert not {n["phoneNumber"] for n in numbers} & held(persistent_state)

    async def again() -> list[tuple[int, Any, dict]]:  # nothing left behind: the same purchases now succeed
        return await asyncio.gather(*(ask(sandbox.app, "POST", PURCHASE, body) for body in bodies[:4]))

    assert [status for status, _, _ in asyncio.run(again())] == [201] * 4
    status, listed, _ = asyncio.run(ask(sandbox.app, "GET", LISTING, query="pageSize=100"))
    assert status == 200 and {n["phoneNumber"] for n in numbers} <= {
        n["phoneNumber"] for n in listed["data"]["numbers"]
    }
    sandbox.store.close()
    assert {n["phoneNumber"] for n in numbers} <= held(persistent_state)


def test_a_read_between_two_turns_sees_what_the_first_committed(persistent_state: str) -> None:
    sandbox = Sandbox(store=open_store(persistent_state))
    number = offers(sandbox, 1)[0]

    async def buy_then_list() -> tuple[int, set[str]]:
        status, _, _ = await ask(sandbox.app, "POST", PURCHASE, purchase_body(number, "then-list"))
        _, listed, _ = await ask(sandbox.app, "GET", LISTING, query="pageSize=100")
        return status, {n["phoneNumber"] for n in listed["data"]["numbers"]}

    status, listed = asyncio.run(buy_then_list())
    sandbox.store.close()
    assert status == 201 and number["phoneNumber"] in listed
