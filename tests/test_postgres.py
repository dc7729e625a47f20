"""One sandbox shared by replicas on PostgreSQL: set up once, every change seen by all, nothing lost when a
replica or the database goes, and a 503 with Retry-After (never a 500 or a hang) while the database is away.

Racing buyers and replays over replicas are in test_concurrency.py; restarts and the same bytes as in memory,
in test_persistence.py. These tests start a throwaway PostgreSQL cluster (see postgres_cluster.py).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from helpers import LOCATION, SEARCH_DEFAULTS, TOKEN, auth, eventually, purchase_body, spread_client
from mockserver import Sandbox
from mockserver.errors import StateFileError, StoreUnavailable
from mockserver.store.postgres import SCHEMA_VERSION, PostgresStore, redacted
from postgres_cluster import Cluster
from replicas import start_replicas


def offers(client: httpx.Client, count: int) -> list[dict]:
    found = client.get(
        f"/phone-system/numbers/location/{LOCATION}/available",
        params={**SEARCH_DEFAULTS, "numberTypes": "local,mobile,tollFree"},
        headers=auth(),
    ).json()
    return found["numbers"][:count]


def owned(base_url: str) -> list[str]:
    answer = httpx.get(
        f"{base_url}/phone-system/numbers/location/{LOCATION}",
        params={"pageSize": 1000, "skipNumberPool": "false"},
        headers=auth(),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return [n["phoneNumber"] for n in answer.json()["data"]["numbers"]]


def test_replicas_starting_at_once_set_up_one_state(serve, postgres_url: str) -> None:
    replicas = start_replicas(serve, postgres_url, 3)
    healths = [httpx.get(f"{r.base_url}/__admin/health").json() for r in replicas]
    assert {h["status"] for h in healths} == {"ok"}
    assert len({h["replica"] for h in healths}) == 3  # each says which replica answered
    store = healths[0]["store"]
    assert store["store"] == redacted(postgres_url) and store["server"].startswith("PostgreSQL ")
    assert store["schemaVersion"] == SCHEMA_VERSION and store["pool"]["size"] >= 1
    assert {r.value("token") for r in replicas} == {TOKEN}
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT version FROM lcphone_schema").fetchall() == [(SCHEMA_VERSION,)]
        [(locations,)] = connection.execute("SELECT count(*) FROM lcphone_locations").fetchall()
    assert locations == len(Sandbox().store.location_ids())  # the default scenario's


def test_a_change_on_one_replica_is_seen_by_the_others(serve, postgres_url: str) -> None:
    # Each change reaches the other replica by notification, within a moment (D46): asked for at once, then again.
    first, second = start_replicas(serve, postgres_url, 2)
    with httpx.Client(base_url=first.base_url) as one, httpx.Client(base_url=second.base_url) as other:
        number = offers(one, 1)[0]
        bought = one.post(
            f"/phone-system/numbers/location/{LOCATION}/purchase", json=purchase_body(number, "f-1"), headers=auth()
        )
        assert bought.status_code == 201
        assert eventually(lambda: number["phoneNumber"] in owned(second.base_url))
        # a reset on the other replica
        assert other.post("/__admin/reset").status_code == 200
        assert eventually(lambda: number["phoneNumber"] not in owned(first.base_url))
        # a fault added on one, hit on the other, once
        fault = {"operationId": "listActiveNumbers", "status": 503, "times": 1}
        assert one.post("/__admin/faults", json=fault).is_success
        assert eventually(lambda: other.get("/__admin/faults").json()["faults"])
        assert other.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).status_code == 503
        assert one.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).status_code == 200
        # rate limits set on one, enforced by the other
        assert one.put("/__admin/rate-limits", json={"enforce": True, "burst": 1}).is_success
        assert eventually(lambda: other.get("/__admin/rate-limits").json()["burst"] == 1)
        listing = f"/phone-system/numbers/location/{LOCATION}"
        assert [other.get(listing, headers=auth()).status_code for _ in range(2)] == [200, 429]
        assert one.put("/__admin/rate-limits", json={"enforce": False}).is_success
        # a scenario loaded on one, served by the other
        scenario = {"name": "shared", "locations": [{"id": "sharedLocation"}]}
        assert other.post("/__admin/scenario", json=scenario).status_code == 200
        assert eventually(lambda: one.get("/__admin/health").json()["scenario"] == "shared")
        token = one.post("/__admin/tokens", json={"locationId": "sharedLocation"}).json()["token"]
        assert other.get("/phone-system/numbers/location/sharedLocation", headers=auth(token)).status_code == 200


def test_a_replica_killed_mid_storm_loses_nothing_acknowledged(serve, postgres_url: str) -> None:
    replicas = start_replicas(serve, postgres_url, 2)
    victim, survivor = replicas
    with httpx.Client(base_url=survivor.base_url, timeout=30) as client:
        numbers = offers(client, 60)
    acknowledged: list[str] = []
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def buy(index: int) -> None:
        target = replicas[index % 2].base_url
        number = numbers[index]
        try:
            answer = httpx.post(
                f"{target}/phone-system/numbers/location/{LOCATION}/purchase",
                json=purchase_body(number, f"storm-{index}"),
                headers=auth(),
                timeout=30,
            )
        except httpx.TransportError:
            with lock:
                outcomes["connection lost"] += 1
            return
        with lock:
            outcomes[str(answer.status_code)] += 1
            if answer.status_code == 201:
                acknowledged.append(number["phoneNumber"])

    with ThreadPoolExecutor(max_workers=12) as pool:
        futures = [pool.submit(buy, i) for i in range(len(numbers))]
        while len(acknowledged) < 10:
            time.sleep(0.005)
        victim.kill()  # kill -9, mid-storm
        for future in futures:
            future.result()
    assert outcomes["connection lost"] > 0 and "500" not in outcomes, outcomes
    listed = owned(survivor.base_url)
    assert set(acknowledged) <= set(listed)  # nothing acknowledged is lost
    assert len(listed) == len(set(listed))  # and nothing sold twice
    rejoined = serve("--state", postgres_url)  # a replacement joins the state as it is
    assert owned(rejoined.base_url) == listed


def test_postgres_restarting_mid_run_gets_503_then_service_resumes(
    serve, postgres_cluster: Cluster, postgres_url: str
) -> None:
    replicas = start_replicas(serve, postgres_url, 2, "--state-timeout", "1")
    client = spread_client([r.base_url for r in replicas])
    acknowledged: list[str] = []
    statuses: Counter[int] = Counter()
    last_sale = [0.0]
    stop = threading.Event()
    failures: list[BaseException] = []

    def storm() -> None:
        search = f"/phone-system/numbers/location/{LOCATION}/available"
        try:
            for index in range(100_000):
                if stop.is_set():
                    return
                found = client.get(search, params={**SEARCH_DEFAULTS, "numberTypes": "local,mobile"}, headers=auth())
                answers = [found]
                if found.status_code == 200:
                    number = found.json()["numbers"][0]
                    body = purchase_body(number, f"restart-{index}")
                    answers.append(client.post(f"/phone-system/numbers/location/{LOCATION}/purchase", json=body,
                                               headers=auth()))  # fmt: skip
                    if answers[-1].status_code == 201:
                        acknowledged.append(number["phoneNumber"])
                        last_sale[0] = time.monotonic()
                for answer in answers:
                    statuses[answer.status_code] += 1
                    if answer.status_code == 503:
                        assert answer.headers["retry-after"] == "1"
                        assert answer.json()["error"] == "Service Unavailable"
                time.sleep(0.01)
        except BaseException as error:  # shown by the test, not lost in the thread
            failures.append(error)

    buyer = threading.Thread(target=storm)
    buyer.start()
    time.sleep(0.5)
    postgres_cluster.restart(down_for=1.5)  # longer than the state timeout: requests must get 503
    back = time.monotonic()
    while time.monotonic() < back + 15 and last_sale[0] < back and buyer.is_alive():
        time.sleep(0.05)
    stop.set()
    buyer.join(timeout=30)
    client.close()
    assert not failures, failures
    assert last_sale[0] > back, f"no sale since the database came back: {statuses}"
    assert statuses[503] > 0 and set(statuses) <= {200, 201, 503}, statuses  # 503 while away, never a 500
    assert {httpx.get(f"{r.base_url}/__admin/health").json()["status"] for r in replicas} == {"ok"}
    assert set(acknowledged) <= set(owned(replicas[0].base_url))  # nothing acknowledged lost


def test_a_database_that_does_not_answer_gets_503_within_the_timeout(postgres_cluster: Cluster, postgres_url) -> None:
    sandbox = Sandbox(store=PostgresStore(postgres_url, timeout=1.0, fail_fast_for=0.2))
    from mockserver.http.transport import SyncASGITransport

    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        assert client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).status_code == 200
        paused = postgres_cluster.pause()
        try:
            # Served from memory at most for the timeout (the database answered the listener within it), then 503
            started = time.monotonic()
            statuses = []
            while time.monotonic() - started < 2.5:
                answer = client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth())
                statuses.append((answer.status_code, time.monotonic() - started))
                if answer.status_code == 503:
                    break
                time.sleep(0.02)
            health = client.get("/__admin/health")
        finally:
            postgres_cluster.resume(paused)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1", (statuses[-3:], paused)
        assert {status for status, _ in statuses} <= {200, 503}
        waited = statuses[-1][1]
        assert waited < 1.5, f"served from memory {waited:.1f} s into a hang, with a 1 s timeout"
        assert health.status_code == 503 and health.json()["store"]["ok"] is False
        time.sleep(0.3)  # past the store's fail-fast window (1 s by default, as Retry-After says)
        assert client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).status_code == 200
    assert not sandbox.crashes
    sandbox.store.close()


def test_an_unreachable_database_is_named_in_one_line_without_its_password(serve, postgres_cluster) -> None:
    from mockserver.serve.process import ServeProcess

    url = f"postgresql://lcphone:s3cret@127.0.0.1:{postgres_cluster.port + 1}/nowhere"
    with pytest.raises(RuntimeError) as failed:
        ServeProcess("--state", url, timeout=30)
    message = str(failed.value)
    assert "lcphone serve: --state: cannot use postgresql://lcphone@127.0.0.1:" in message
    assert "s3cret" not in message and "Connection refused" in message


def test_the_url_can_come_from_the_environment_and_the_password_stays_off_the_banner(
    postgres_cluster: Cluster, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.serve.process import ServeProcess

    with psycopg.connect(postgres_cluster.url(), autocommit=True) as connection:
        connection.execute("ALTER USER lcphone PASSWORD 'pw-kept-secret'")
    monkeypatch.setenv("LCPHONE_STATE", postgres_url.replace("lcphone@", "lcphone:pw-kept-secret@"))
    with ServeProcess() as served:
        assert served.value("state").startswith(redacted(postgres_url))
        assert "pw-kept-secret" not in "\n".join(served.banner)


def test_state_of_a_newer_lcphone_is_refused(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("UPDATE lcphone_schema SET version = 99")
    with pytest.raises(StateFileError, match=f"has state format 99; this lcphone reads format {SCHEMA_VERSION}"):
        PostgresStore(postgres_url)


def test_the_store_fails_fast_while_the_database_is_away(postgres_cluster: Cluster, postgres_url: str) -> None:
    store = PostgresStore(postgres_url, timeout=2.0, fail_fast_for=0.5)
    postgres_cluster.stop("immediate")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get_meta("generation")
        for _ in range(20):  # within the fail-fast window: at once, not a new wait each time
            with pytest.raises(StoreUnavailable):
                store.get_meta("generation")
        assert time.monotonic() - started < 2.5
    finally:
        postgres_cluster.start()
    time.sleep(0.6)
    assert store.get_meta("generation") is not None
    store.close()


def test_redacted_urls() -> None:
    assert redacted("postgresql://me:pw@db.example:5433/sandbox") == "postgresql://me@db.example:5433/sandbox"
    assert redacted("postgres://db/x?sslmode=require") == "postgresql://db/x"


def test_sandboxes_in_two_schemas_of_one_database_are_apart(postgres_cluster: Cluster) -> None:
    from mockserver.http.transport import SyncASGITransport

    urls = [f"{postgres_cluster.url()}?options=-csearch_path%3Dteam_{name}" for name in ("a", "b")]
    team_a, team_b = (Sandbox(store=PostgresStore(url)) for url in urls)
    assert team_a.store.description.endswith("/postgres (schema team_a)")
    with httpx.Client(transport=SyncASGITransport(team_a.app), base_url="http://a") as client:
        number = offers(client, 1)[0]
        path = f"/phone-system/numbers/location/{LOCATION}/purchase"
        assert client.post(path, json=purchase_body(number, "a-1"), headers=auth()).status_code == 201
    assert team_a.store.owner_of(number["phoneNumber"]) == LOCATION
    assert team_b.store.owner_of(number["phoneNumber"]) is None
    for sandbox in (team_a, team_b):
        sandbox.store.close()


def test_the_banner_says_whether_a_replica_set_up_the_state_or_joined_it(serve, postgres_url: str) -> None:
    first = serve("--state", postgres_url)
    second = serve("--state", postgres_url)
    assert "set up the shared state" in first.value("replica")
    assert "joined the shared state as it was" in second.value("replica")
    assert "its journal is its own; an enforced rate limit is shared" in second.value("replica")


def test_a_hung_database_gets_503_within_the_state_timeout_on_every_request(
    serve, postgres_cluster: Cluster, postgres_url: str
) -> None:
    """The postmaster and its backends stopped (SIGSTOP) for 10 s: no request to the replica waits past
    --state-timeout; past it from the hang's start, every answer is 503 in the API's error shape (the health
    check: its own, the store not ok); reads served from memory before that; and service resumes."""
    replica = serve("--state", postgres_url, "--state-timeout", "1")
    base = replica.base_url
    listing = f"{base}/phone-system/numbers/location/{LOCATION}"
    with httpx.Client(timeout=30) as client:
        assert client.get(listing, headers=auth()).status_code == 200
        number = offers(httpx.Client(base_url=base, timeout=30), 1)[0]
        requests = [
            ("GET", listing, None),
            ("GET", f"{base}/__admin/health", None),
            ("POST", f"{listing}/purchase", purchase_body(number, "hung-1")),
            ("GET", f"{base}/phone-system/numbers/location/{LOCATION}/available", None),
        ]
        slow: list[str] = []
        answered: Counter[int] = Counter()
        health_waits: list[float] = []

        def ask(index: int) -> None:
            method, url, body = requests[index % len(requests)]
            started = time.monotonic()
            params = SEARCH_DEFAULTS if url.endswith("/available") else None
            answer = client.request(method, url, json=body, headers=auth(), params=params)
            waited = time.monotonic() - started
            answered[answer.status_code] += 1
            if "health" in url:
                health_waits.append(waited)
            shaped = answer.json()["store"]["ok"] is False if "health" in url else "error" in answer.json()
            # from memory (200) only within the timeout of the hang's start, when the database last answered
            from_memory = answer.status_code == 200 and time.monotonic() - paused_at < 1.2 and "health" not in url
            if not from_memory and (answer.status_code != 503 or not shaped) or waited > 1.6:
                slow.append(f"{method} {url}: {answer.status_code} after {waited:.2f} s")

        paused = postgres_cluster.pause()
        paused_at = time.monotonic()
        try:
            until = time.monotonic() + 10
            index = 0
            with ThreadPoolExecutor(max_workers=4) as pool:
                while time.monotonic() < until:
                    list(pool.map(ask, range(index, index + 4)))
                    index += 4
                    time.sleep(0.05)
        finally:
            postgres_cluster.resume(paused)
        assert not slow, slow[:10]
        assert answered[503] >= 40
        assert sorted(health_waits)[-2] < 0.3, health_waits  # once the outage is known, health answers at once
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and client.get(f"{base}/__admin/health").status_code != 200:
            time.sleep(0.1)
        assert client.get(listing, headers=auth()).status_code == 200


def test_a_schema_name_is_taken_exactly_as_written(postgres_cluster: Cluster) -> None:
    """`STORM1` and `storm1` are two schemas, two sandboxes: the name is quoted, never folded to lower case."""
    from mockserver.domain.models import Location

    upper, lower = (
        PostgresStore(f"{postgres_cluster.url()}?options=-csearch_path%3D{name}") for name in ("STORM1", "storm1")
    )
    try:
        assert (upper.schema, lower.schema) == ("STORM1", "storm1")
        upper.put_location(Location(id="onlyInUpper", name="upper", account_record_id="r1"))
        assert upper.get_location("onlyInUpper") is not None
        assert lower.get_location("onlyInUpper") is None
        assert upper.description.endswith("(schema STORM1)")
    finally:
        upper.close()
        lower.close()


@pytest.mark.parametrize("schema", ["pg_catalog", "information_schema", "pg_toast", "pg_mine"])
def test_a_system_schema_is_refused_in_one_line(serve, postgres_cluster: Cluster, schema: str) -> None:
    from mockserver.serve.process import ServeProcess

    with pytest.raises(RuntimeError) as failed:
        ServeProcess("--state", f"{postgres_cluster.url()}?options=-csearch_path%3D{schema}", timeout=30)
    message = str(failed.value)
    assert f"lcphone serve: --state: {schema} is a system schema of PostgreSQL" in message, message
    assert "Traceback" not in message


def test_a_replica_that_lost_its_channel_never_serves_what_it_missed(serve, postgres_cluster, postgres_url) -> None:
    """The listener's connection of one replica is cut (its backend terminated): that replica answers 503 or the
    state with every change the other made since, never the state it held; then it serves again."""
    buyer, lost = start_replicas(serve, postgres_url, 2, "--state-timeout", "1")
    with httpx.Client(base_url=buyer.base_url, timeout=30) as client:
        first, second = offers(client, 2)
        path = f"/phone-system/numbers/location/{LOCATION}/purchase"
        assert client.post(path, json=purchase_body(first, "lost-1"), headers=auth()).status_code == 201
        assert first["phoneNumber"] in owned(lost.base_url)
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as connection:
            [(cut,)] = connection.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE %s",
                (f"%:{lost.process.pid} listener",),
            ).fetchall()
        assert cut == 1
        time.sleep(0.2)
        assert client.post(path, json=purchase_body(second, "lost-2"), headers=auth()).status_code == 201
    answers = []
    until = time.monotonic() + 5
    while time.monotonic() < until:
        answer = httpx.get(f"{lost.base_url}/phone-system/numbers/location/{LOCATION}", headers=auth(), timeout=30)
        answers.append(answer.status_code)
        if answer.status_code == 200:
            assert second["phoneNumber"] in answer.text, "served the state it held, without the change it missed"
            break
        assert answer.status_code == 503
        time.sleep(0.05)
    assert answers[-1] == 200, answers


def test_reads_are_served_from_memory_without_a_query(postgres_url: str) -> None:
    """Lists, searches, pools and the settings check of each request: no connection taken from the pool."""
    from mockserver.http.transport import SyncASGITransport

    store = PostgresStore(postgres_url)
    sandbox = Sandbox(store=store)
    taken = []
    getconn = store._pool.getconn
    store._pool.getconn = lambda *args, **kwargs: taken.append(1) or getconn(*args, **kwargs)  # type: ignore[method-assign]
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        offers(client, 1)  # the first search reserves its fingerprints
        taken.clear()
        for _ in range(20):
            assert client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).status_code == 200
            assert client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth()).is_success
            assert len(offers(client, 1)) == 1
    assert taken == []
    store.close()


def test_a_token_minted_on_one_replica_is_known_at_once_to_another(postgres_url: str) -> None:
    """Its notification not yet applied by the other (held back here), the other still knows the token: a
    miss is confirmed against the database's position."""
    first, second = PostgresStore(postgres_url, timeout=1.0), PostgresStore(postgres_url, timeout=1.0)
    try:
        minted = Sandbox(store=first).mint_token(LOCATION)
        deadline = time.monotonic() + 5
        while second.get_token(minted.value) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # caught up with the set-up
        listener = second._listener
        assert listener is not None
        listener.readable = lambda: False  # type: ignore[method-assign]  # as if it had not arrived yet
        held_back, applies = listener.drain, listener.on_change
        listener.drain = lambda wait=0.0: None  # type: ignore[method-assign]
        listener.on_change = lambda payload: None
        minted = Sandbox(store=first, attach=True).mint_token(LOCATION)
        started = time.monotonic()
        assert second.get_token(minted.value) == minted
        assert time.monotonic() - started < 2
        listener.drain, listener.on_change = held_back, applies  # type: ignore[method-assign]
        assert second.get_token("pit-never-minted") is None
    finally:
        first.close()
        second.close()


def test_a_replica_busy_writing_hands_the_write_lock_on_and_gives_it_back_when_idle(postgres_url: str) -> None:
    """A replica keeps the write lock between its transactions (each begins without a round trip), but hands it
    on within LEASE_HOLD to a replica waiting for it, and gives it back LEASE_IDLE after its last: the other's
    writes never wait out the lock timeout (1 s here) however busy the first is."""
    first, second = PostgresStore(postgres_url, timeout=1.0), PostgresStore(postgres_url, timeout=1.0)
    busy_until = time.monotonic() + 2.5
    written = Counter()

    def keep_writing() -> None:
        while time.monotonic() < busy_until:
            first.set_meta("busy", str(written["first"]))
            written["first"] += 1

    taken = []
    getconn = first._pool.getconn
    first._pool.getconn = lambda *args, **kwargs: taken.append(1) or getconn(*args, **kwargs)  # type: ignore[method-assign]
    try:
        writer = threading.Thread(target=keep_writing)
        writer.start()
        time.sleep(0.2)
        waits = []
        for turn in range(5):
            started = time.monotonic()
            second.set_meta("other", str(turn))  # a StoreUnavailable here: the lock was never handed on
            waits.append(time.monotonic() - started)
            time.sleep(0.1)
        writer.join()
        assert max(waits) < 0.5
        assert written["first"] > 10 * len(taken)  # most of the first's transactions began on the lease it held
        time.sleep(0.2)  # idle: the lease given back
        started = time.monotonic()
        second.set_meta("other", "after")
        assert time.monotonic() - started < 0.5
        assert first.get_meta("other") in ("after", "4")  # its notification may be on its way
    finally:
        first.close()
        second.close()
