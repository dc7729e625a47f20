"""Many clients at once: a number is sold once, nothing is lost, a replayed fingerprint buys once.

Each rule is checked against a sandbox in memory (one process, a server thread), against three worker
processes sharing one SQLite file, and against two `lcphone serve` replicas sharing one PostgreSQL database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from helpers import LOCATION, SEARCH_DEFAULTS, TOKEN, auth, purchase_body, spread_client
from mockserver import Sandbox
from mockserver.serve.thread import SandboxServer
from replicas import start_replicas

CLIENTS = 50


@pytest.fixture(params=["memory", "sqlite-3-workers", "postgresql-2-replicas"])
def client(request, serve, tmp_path) -> Iterator[httpx.Client]:
    """A client of one sandbox: in memory; three workers on one SQLite file; or two replicas on one PostgreSQL
    database, each request going to the next replica, as behind a load balancer."""
    if request.param == "memory":
        with SandboxServer(Sandbox()) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
            yield client
    elif request.param == "sqlite-3-workers":
        base_url = serve("--state", str(tmp_path / "state.db"), "--workers", "3").base_url
        with httpx.Client(base_url=base_url, timeout=30) as client:
            yield client
    else:
        url = request.getfixturevalue("postgres_url")
        with spread_client([process.base_url for process in start_replicas(serve, url, 2)]) as client:
            yield client


def offers(client: httpx.Client, count: int) -> tuple[list[dict], str]:
    found = client.get(
        f"/phone-system/numbers/location/{LOCATION}/available",
        params={**SEARCH_DEFAULTS, "numberTypes": "local,mobile,tollFree"},
        headers=auth(),
    ).json()
    assert len(found["numbers"]) >= count
    return found["numbers"][:count], found["fingerprintId"]


def active(client: httpx.Client, location: str, token: str) -> list[str]:
    response = client.get(
        f"/phone-system/numbers/location/{location}",
        params={"pageSize": 1000, "skipNumberPool": "false"},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text
    return [n["phoneNumber"] for n in response.json()["data"]["numbers"]]


def in_parallel(calls) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_fifty_clients_buying_one_number_get_exactly_one_sale(client: httpx.Client) -> None:
    other_token = client.post("/__admin/tokens", json={"locationId": "rival-location"}).json()["token"]
    (number,), _ = offers(client, 1)
    calls = []
    for i in range(CLIENTS):
        location, token = (LOCATION, TOKEN) if i % 2 else ("rival-location", other_token)
        path = f"/phone-system/numbers/location/{location}/purchase"
        body = purchase_body(number, f"race-{i}")
        calls.append(lambda path=path, body=body, token=token: client.post(path, json=body, headers=auth(token)))
    statuses = Counter(r.status_code for r in in_parallel(calls))
    assert statuses == {201: 1, 400: CLIENTS - 1}
    owners = [
        loc
        for loc, tok in ((LOCATION, TOKEN), ("rival-location", other_token))
        if number["phoneNumber"] in active(client, loc, tok)
    ]
    assert len(owners) == 1  # the active lists agree: one owner


def test_concurrent_purchases_of_different_numbers_all_succeed(client: httpx.Client) -> None:
    numbers, _ = offers(client, 20)
    before = active(client, LOCATION, TOKEN)
    path = f"/phone-system/numbers/location/{LOCATION}/purchase"
    calls = [
        lambda n=n, i=i: client.post(path, json=purchase_body(n, f"distinct-{i}"), headers=auth())
        for i, n in enumerate(numbers)
    ]
    assert {r.status_code for r in in_parallel(calls)} == {201}
    after = active(client, LOCATION, TOKEN)
    assert len(after) == len(before) + len(numbers)
    assert {n["phoneNumber"] for n in numbers} <= set(after)


def test_concurrent_replays_of_one_fingerprint_buy_once(client: httpx.Client) -> None:
    (number,), fingerprint = offers(client, 1)
    before = active(client, LOCATION, TOKEN)
    path = f"/phone-system/numbers/location/{LOCATION}/purchase"
    body = purchase_body(number, fingerprint)
    answers = in_parallel([lambda: client.post(path, json=body, headers=auth())] * 30)
    assert {r.status_code for r in answers} == {201}
    assert len({r.content for r in answers}) == 1
    assert active(client, LOCATION, TOKEN) == [*before, number["phoneNumber"]]
