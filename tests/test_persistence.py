"""Persistent state, in SQLite and in PostgreSQL: it survives restarts and kill -9, and stays sound."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from helpers import LOCATION, SEARCH_DEFAULTS, TOKEN, auth
from mockserver import Sandbox
from mockserver.http.transport import SyncASGITransport
from mockserver.sandbox import StateError
from mockserver.store import open_store


def client_for(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox")


def buy_first(client: httpx.Client, location: str = LOCATION, token: str = TOKEN) -> tuple[dict, httpx.Response]:
    found = client.get(
        f"/phone-system/numbers/location/{location}/available", params=SEARCH_DEFAULTS, headers=auth(token)
    ).json()
    number = found["numbers"][0]
    body = {
        "phoneNumber": number["phoneNumber"],
        "addressSid": "",
        "bundleSid": "",
        "countryCode": "US",
        "numberType": "local",
        "paymentIntentId": "pi_1",
        "stripeAccountId": "acct_1",
        "paymentMethodId": "pm_1",
        "locality": "",
        "region": "",
        "fingerprintId": found["fingerprintId"],
        "skipLocationKYC": False,
    }
    return body, client.post(f"/phone-system/numbers/location/{location}/purchase", json=body, headers=auth(token))


def active(client: httpx.Client, location: str = LOCATION, token: str = TOKEN) -> list[str]:
    response = client.get(
        f"/phone-system/numbers/location/{location}",
        params={"pageSize": 1000, "skipNumberPool": "false"},
        headers=auth(token),
    )
    return [n["phoneNumber"] for n in response.json()["data"]["numbers"]]


def test_everything_survives_a_restart(persistent_state: str) -> None:
    first = Sandbox(store=open_store(persistent_state))
    with client_for(first) as client:
        body, bought = buy_first(client)
        assert bought.status_code == 201
        minted = client.post("/__admin/tokens", json={"locationId": "persisted-location"}).json()["token"]
        client.post(f"/__admin/locations/{LOCATION}/pools", json={"name": "Kept", "numbers": 1})
        before = active(client)
    first.phone_system.store.close()

    again = Sandbox(store=open_store(persistent_state))
    with client_for(again) as client:
        assert active(client) == before and body["phoneNumber"] in before
        replay = client.post(f"/phone-system/numbers/location/{LOCATION}/purchase", json=body, headers=auth())
        assert replay.status_code == 201 and replay.content == bought.content  # idempotency records persist
        assert client.get("/phone-system/numbers/location/persisted-location", headers=auth(minted)).status_code == 200
        pools = client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth()).json()
        assert [p["name"] for p in pools["data"]] == ["Sales rotation", "Kept"]
        found = client.get(
            f"/phone-system/numbers/location/{LOCATION}/available", params=SEARCH_DEFAULTS, headers=auth()
        )
        assert body["phoneNumber"] not in found.text  # still sold
        client.post("/__admin/reset")
        assert body["phoneNumber"] not in active(client)  # reset goes back to the scenario, on disk too


def test_the_same_requests_give_the_same_bytes_in_memory_and_persisted(persistent_state: str) -> None:
    answers = []
    for store in (None, open_store(persistent_state)):
        with client_for(Sandbox(store=store)) as client:
            _, bought = buy_first(client)
            answers.append(
                (bought.content, client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).content)
            )
    assert answers[0] == answers[1]


def test_a_state_refuses_another_seed(persistent_state: str) -> None:
    Sandbox(seed=1, store=open_store(persistent_state))
    with pytest.raises(StateError, match="seed 1"):
        Sandbox(seed=2, store=open_store(persistent_state))


def test_a_loaded_scenario_is_the_one_a_restart_keeps(persistent_state: str) -> None:
    with client_for(Sandbox(store=open_store(persistent_state))) as client:
        assert (
            client.post("/__admin/scenario", json={"name": "other", "locations": [{"id": "otherLoc"}]}).status_code
            == 200
        )
    restarted = Sandbox(store=open_store(persistent_state))
    assert restarted.scenario.name == "other"


def test_an_acknowledged_purchase_survives_kill_9(serve, tmp_path) -> None:
    path = tmp_path / "state.db"
    served = serve("--state", str(path))
    with httpx.Client(base_url=served.base_url) as client:
        bought_numbers = []
        for _ in range(3):
            body, bought = buy_first(client)
            assert bought.status_code == 201
            bought_numbers.append(body["phoneNumber"])
    served.kill()  # kill -9, of the server and anything it started
    served.process.wait(timeout=10)

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted = serve("--state", str(path))
    with httpx.Client(base_url=restarted.base_url) as client:
        listed = active(client)
    assert all(number in listed for number in bought_numbers)


def test_a_state_file_of_format_2_is_brought_to_the_current_format(tmp_path) -> None:
    from mockserver.store.sqlite import SCHEMA_VERSION, SqliteStore

    path = tmp_path / "state.db"
    Sandbox(store=SqliteStore(path)).store.close()
    held = dict(sqlite3.connect(path).execute("SELECT kind, value FROM sequences WHERE kind LIKE 'held:%'").fetchall())
    assert held, "each location's numbers are counted"
    with sqlite3.connect(path) as db:  # as lcphone 0.2 wrote it: no counters
        db.execute("DELETE FROM sequences WHERE kind LIKE 'held:%'")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    store = SqliteStore(path)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert all(store.count_active_numbers(kind.removeprefix("held:")) == count for kind, count in held.items())
    store.close()


def test_workers_on_one_sqlite_file_serve_from_memory_and_see_each_others_changes(tmp_path) -> None:
    """Two stores on one file (two workers): each answers from its mirror, and sees the other's commits at once
    (applied in order from `changes`; loaded afresh past a gap)."""
    from mockserver.store.sqlite import SqliteStore

    path = tmp_path / "state.db"
    first = Sandbox(store=SqliteStore(path))
    second = Sandbox(store=SqliteStore(path), attach=True)
    with client_for(first) as one, client_for(second) as other:
        body, bought = buy_first(one)
        assert bought.status_code == 201
        assert body["phoneNumber"] in active(other)  # the other worker's commit, seen at once
        purchase = f"/phone-system/numbers/location/{LOCATION}/purchase"
        sold_again = other.post(purchase, json={**body, "fingerprintId": "x"}, headers=auth())
        assert sold_again.status_code == 400  # sold once
        replay = other.post(f"/phone-system/numbers/location/{LOCATION}/purchase", json=body, headers=auth())
        assert replay.content == bought.content  # the idempotency record too
        assert other.put("/__admin/rate-limits", json={"burst": 7}).is_success
        assert one.get("/__admin/rate-limits").json()["burst"] == 7  # settings
        second_body, _ = buy_first(other)
        assert other.put("/__admin/rate-limits", json={"burst": 8}).is_success
        second.store.flush()  # in the tables: changes are deleted only once the tables hold them
        with sqlite3.connect(path) as db:  # changes the first has not seen are no longer kept: a gap
            db.execute("DELETE FROM changes WHERE seq < (SELECT max(seq) FROM changes)")
        assert second_body["phoneNumber"] in active(one)  # loaded afresh
        assert other.post("/__admin/reset").status_code == 200
        assert body["phoneNumber"] not in active(one)
    for sandbox in (first, second):
        sandbox.store.close()


def _file_state(path) -> tuple[int, int, set[str]]:
    """(the last change committed, the last the tables hold, the numbers the tables hold), read from the file."""
    with sqlite3.connect(path) as db:
        [(committed,)] = db.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchall()
        [(held,)] = db.execute("SELECT position FROM tables_at").fetchall()
        numbers = {row[0] for row in db.execute("SELECT phone_number FROM numbers")}
    return committed, held, numbers


def test_a_commit_writes_the_log_and_the_tables_follow_behind_it(tmp_path, monkeypatch) -> None:
    """A purchase commits one row of `changes`; every WRITE_BEHIND changes the tables get their SQL in one go.
    A worker loading afresh in between reads the tables and the changes after them: it misses nothing."""
    from mockserver.store import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "WRITE_BEHIND", 3)
    path = tmp_path / "state.db"
    first = Sandbox(store=sqlite_store.SqliteStore(path))
    first.store.flush()  # the set-up's changes in the tables
    with client_for(first) as client:
        body, bought = buy_first(client)
        assert bought.status_code == 201
        committed, held, numbers = _file_state(path)
        assert held < committed and body["phoneNumber"] not in numbers  # in the log only, for now
        late = Sandbox(store=sqlite_store.SqliteStore(path), attach=True)
        with client_for(late) as other:
            assert body["phoneNumber"] in active(other)  # loaded from the tables and the log after them
        late.store.close()
        bought_numbers = [body["phoneNumber"]] + [buy_first(client)[0]["phoneNumber"] for _ in range(3)]
        committed, held, numbers = _file_state(path)
        assert committed - held < 3 and set(bought_numbers[:3]) <= numbers  # written behind, in one commit
        assert client.post("/__admin/reset").status_code == 200
        committed, held, numbers = _file_state(path)
        assert held == committed and not set(bought_numbers) & numbers  # a reset is written at once
        body, bought = buy_first(client)
    first.store.close()
    committed, held, numbers = _file_state(path)
    assert held == committed and body["phoneNumber"] in numbers  # closing brings the tables up to the log


def test_a_state_file_of_format_3_is_brought_to_the_current_format(tmp_path) -> None:
    """Format 3 wrote the tables in every commit: its tables hold every change, and are taken as such."""
    from mockserver.store.sqlite import SCHEMA_VERSION, SqliteStore

    path = tmp_path / "state.db"
    sandbox = Sandbox(store=SqliteStore(path))
    with client_for(sandbox) as client:
        body, bought = buy_first(client)
        assert bought.status_code == 201
    sandbox.store.close()
    with sqlite3.connect(path) as db:  # as lcphone 0.3 wrote it: no statements in the log, no tables_at
        db.execute("ALTER TABLE changes DROP COLUMN statements")
        db.execute("DROP TABLE tables_at")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    store = SqliteStore(path)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert body["phoneNumber"] in {n.phone_number for n in store.active_numbers(LOCATION)}
    store.close()
    committed, held, _ = _file_state(path)
    assert held == committed


def test_the_write_ahead_log_stays_bounded_under_sustained_writes(tmp_path) -> None:
    """Thousands of transactions in a row: checkpoints keep up (a checkpoint in a thread never completed while
    commits kept coming, and the WAL grew by every page written)."""
    from mockserver.store.sqlite import SqliteStore

    path = tmp_path / "state.db"
    sandbox = Sandbox(store=SqliteStore(path), numbers_per_type=1500)
    for _ in range(1400):
        sandbox.phone_system.add_numbers(LOCATION, "US", "local", 1)  # a transaction each
    assert (tmp_path / "state.db-wal").stat().st_size < 8 * 1024 * 1024
    sandbox.store.close()
