"""Findings of an attack on the sandbox, each with its test: bounded memory, safe scenarios, limits on bodies,
faults that do what they say, no quadratic seeding.
"""

from __future__ import annotations

import httpx
import pytest

from helpers import LOCATION, TOKEN, auth
from mockserver import Sandbox
from mockserver.contract.requests import Violation
from mockserver.control.journal import Journal
from mockserver.control.rate_limits import RateLimiter
from mockserver.domain.store import MemoryStore
from mockserver.http.transport import SyncASGITransport


def client(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox")


def test_rate_limit_counters_are_bounded_and_never_made_by_unauthenticated_requests() -> None:
    sandbox = Sandbox()
    with client(sandbox) as http:
        for i in range(300):  # distinct location ids, no valid token: before, each made a counter for ever
            http.get(f"/phone-system/numbers/location/x{i:019d}", headers=auth("nobody"))
    assert len(sandbox.rate_limiter) == 0  # a request without a known token counts on nothing (D22)
    clock = [0.0]
    limiter = RateLimiter(capacity=100, clock=lambda: clock[0])
    for i in range(1000):
        clock[0] += 0.001
        limiter.hit(f"token-{i}", "location")
    assert len(limiter) <= 100  # least recently used out


def test_the_journal_is_bounded_per_field_and_in_bytes() -> None:
    journal = Journal(capacity=10_000, max_bytes=200_000)
    huge = "x" * 64_000
    for _ in range(100):
        journal.record("GET", "/" + huge, huge, None, 404, [Violation("path", huge, "#/paths", "route")])
    entries = journal.entries()
    assert journal.size_bytes <= 200_000 and len(entries) < 100
    assert all(len(e.path) < 600 and len(e.query) < 1100 and len(e.violations[0].message) < 400 for e in entries)


def test_a_huge_location_id_is_neither_kept_nor_echoed_whole() -> None:
    sandbox = Sandbox()
    with client(sandbox) as http:
        response = http.get("/phone-system/numbers/location/" + "a" * 60_000, headers=auth())
        assert response.status_code == 400 and len(response.content) < 1000
        listed = http.get("/__admin/journal")
    assert len(listed.content) < 5000


def test_admin_bodies_are_limited_in_size() -> None:
    with client(Sandbox()) as http:
        response = http.post(
            "/__admin/scenario",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413 and response.json()["statusCode"] == 413


def test_a_yaml_alias_bomb_is_refused_with_a_short_answer_and_the_old_scenario_kept() -> None:
    bomb = (
        "name: bomb\na: &a ["
        + ", ".join(["lol"] * 9)
        + "]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))
    )
    with client(Sandbox()) as http:
        response = http.post("/__admin/scenario", content=bomb, headers={"Content-Type": "application/yaml"})
        assert response.status_code == 400 and len(response.content) < 500 and "aliases" in response.text
        assert http.get("/__admin/health").json()["scenario"] == "default"


def test_giving_a_location_many_numbers_reads_its_numbers_once() -> None:
    calls = {"active_numbers": 0}

    class CountingStore(MemoryStore):
        def active_numbers(self, location_id: str):
            calls["active_numbers"] += 1
            return super().active_numbers(location_id)

    sandbox = Sandbox(store=CountingStore(), numbers_per_type=2000)
    calls["active_numbers"] = 0
    added = sandbox.add_numbers("many-numbers", "US", "local", 1500)
    assert len(added) == 1500 and calls["active_numbers"] == 0  # before: once per number, a quadratic seeding


def test_the_fault_header_honours_its_operation_and_its_share() -> None:
    sandbox = Sandbox()
    with client(sandbox) as http:
        pools = {"locationId": LOCATION}
        other = http.get(
            "/phone-system/number-pools",
            params=pools,
            headers={**auth(), "X-Lcphone-Fault": "purchaseNumber:status=503"},
        )
        assert other.status_code == 200  # the fault names another operation
        mine = http.get(
            "/phone-system/number-pools",
            params=pools,
            headers={**auth(), "X-Lcphone-Fault": "listNumberPools:status=503"},
        )
        assert mine.status_code == 503
        statuses = [
            http.get(
                "/phone-system/number-pools",
                params=pools,
                headers={**auth(), "X-Lcphone-Fault": "status=502,ratio=0.3"},
            ).status_code
            for _ in range(100)
        ]
        assert 10 < statuses.count(502) < 50 and statuses.count(200) == 100 - statuses.count(502)


def test_an_in_process_dropped_connection_is_what_a_socket_gives() -> None:
    sandbox = Sandbox()
    sandbox.add_fault({"operationId": "listActiveNumbers", "drop": True, "times": 1})
    with client(sandbox) as http, pytest.raises(httpx.RemoteProtocolError):
        http.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth(TOKEN))


def test_admin_changes_are_made_through_the_one_control_plane() -> None:
    # The admin API, the fixture's helpers and workers all change state through Sandbox: settings live in the store.
    store = MemoryStore()
    sandbox = Sandbox(store=store)
    with client(sandbox) as http:
        http.post("/__admin/faults", json={"status": 503, "times": 2})
        http.put("/__admin/rate-limits", json={"enforce": True, "burst": 7})
    other_process_view = Sandbox(store=store, attach=True)  # what another worker on this store sees
    assert [rule.status for rule in other_process_view.fault_rules()] == [503]
    assert other_process_view.rate_limit_policy.burst == 7
