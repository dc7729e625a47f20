"""Rate limits like the real service: counted per app token and location, enforced only when asked."""

from __future__ import annotations

import httpx
import pytest

from helpers import LOCATION, TOKEN, UK_LOCATION, UK_TOKEN, Api, auth
from mockserver import RateLimitPolicy, Sandbox
from mockserver.http.transport import SyncASGITransport


def remaining(response: httpx.Response) -> int:
    return int(response.headers["X-RateLimit-Remaining"])


def test_counted_per_token_and_location(api: Api, http) -> None:
    first, second = api.active(), api.active()
    assert remaining(second) == remaining(first) - 1
    other_token = http.post("/__admin/tokens", json={"locationId": LOCATION}).json()["token"]
    assert remaining(api.active(token=other_token)) == 99  # another app: its own count
    assert remaining(api.active(UK_LOCATION, UK_TOKEN)) == 99  # another location: its own count
    assert int(first.headers["X-RateLimit-Daily-Remaining"]) == 199_999


def test_requests_that_name_other_locations_make_no_new_counters(sandbox, api: Api) -> None:
    # The counter is the token's own location's, so that a client cannot make counters by naming ids.
    for i in range(200):
        api.active(f"loc{i}")  # 403: another location
        api.active(f"loc{i}", token=f"nobody-{i}")  # 401: unknown token
    assert len(sandbox.rate_limiter) <= 2


def test_not_enforced_by_default(api: Api) -> None:
    responses = [api.pools() for _ in range(120)]
    assert {r.status_code for r in responses} == {200}
    assert remaining(responses[-1]) == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited() -> tuple[httpx.Client, FakeClock]:
    sandbox = Sandbox(rate_limits=RateLimitPolicy(enforce=True, burst=3, window_ms=2000, daily=5))
    clock = FakeClock()
    sandbox.rate_limiter._clock = clock
    return httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox"), clock


def test_past_the_burst_a_429_with_retry_after_in_the_error_shape(limited) -> None:
    client, clock = limited
    statuses = [client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth())
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2" and refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.json() == {
        "statusCode": 429,
        "message": "Too many requests. Retry after 2 seconds.",
        "error": "Too Many Requests",
    }
    clock.now += 2.0  # the window has passed
    assert client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).status_code == 200


def test_past_the_daily_limit_429_until_tomorrow(limited) -> None:
    client, clock = limited
    for _ in range(5):
        clock.now += 10
        assert (
            client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth()).status_code == 200
        )
    clock.now += 10
    refused = client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth())
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 2
    assert refused.headers["X-RateLimit-Daily-Remaining"] == "0"


def test_configured_through_the_admin_api_and_undone_by_reset(http, api: Api) -> None:
    response = http.put("/__admin/rate-limits", json={"enforce": True, "burst": 2})
    assert response.json() == {"enforce": True, "burst": 2, "windowMs": 10000, "daily": 200000}
    assert [api.pools().status_code for _ in range(3)] == [200, 200, 429]
    assert http.get("/__admin/rate-limits").json()["enforce"] is True
    assert http.put("/__admin/rate-limits", json={"burst": 0, "speed": 1}).status_code == 400
    http.post("/__admin/reset")
    assert http.get("/__admin/rate-limits").json()["enforce"] is False
    assert api.pools().status_code == 200


def test_the_fixture_switch_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.lcphone(rate_limit={"burst": 2, "window_ms": 60000})
def test_marker(lcphone):
    statuses = [lcphone.client.get("/phone-system/number-pools", params={"locationId": lcphone.location_id}).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]

def test_helper(lcphone):
    lcphone.rate_limits(burst=1)
    first = lcphone.client.get("/phone-system/number-pools", params={"locationId": lcphone.location_id})
    second = lcphone.client.get("/phone-system/number-pools", params={"locationId": lcphone.location_id})
    assert (first.status_code, second.status_code) == (200, 429) and "Retry-After" in second.headers

def test_next_test_is_not_throttled(lcphone):
    pools = "/phone-system/number-pools"
    assert all(lcphone.client.get(pools, params={"locationId": lcphone.location_id}).status_code == 200
               for _ in range(5))
""")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_serve_enforces_with_the_cli_switch(serve) -> None:
    served = serve("--rate-limit", "--rate-limit-burst", "2", "--rate-limit-window-ms", "60000")
    assert any("rate limits  enforced" in line for line in served.banner)
    with httpx.Client(base_url=served.base_url) as client:
        statuses = [
            client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth(TOKEN)).status_code for _ in range(3)
        ]
    assert statuses == [200, 200, 429]


def test_requests_with_unknown_tokens_spend_no_ones_budget(serve) -> None:
    """Five requests with made-up tokens, then requests without a token: each a 401, never a 429; and the
    sandbox's own token still has its whole burst."""
    served = serve("--rate-limit", "--rate-limit-burst", "3", "--rate-limit-window-ms", "60000")
    listing = f"/phone-system/numbers/location/{LOCATION}"
    with httpx.Client(base_url=served.base_url) as client:
        made_up = [client.get(listing, headers=auth(f"pit-made-up-{i}")).status_code for i in range(5)]
        without = [client.get(listing, headers={"Version": "v3"}).status_code for _ in range(5)]
        assert made_up == [401] * 5 and without == [401] * 5
        unknown = client.get(listing, headers=auth("pit-made-up-0"))
        assert unknown.headers["X-RateLimit-Remaining"] == "3"  # the full budget shown: nothing was counted
        assert [client.get(listing, headers=auth()).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_burst_is_per_token_and_the_daily_quota_per_location(http) -> None:
    assert http.put("/__admin/rate-limits", json={"enforce": True, "burst": 2, "daily": 3}).is_success
    other = http.post("/__admin/tokens", json={"locationId": LOCATION}).json()["token"]
    listing = f"/phone-system/numbers/location/{LOCATION}"
    assert [http.get(listing, headers=auth()).status_code for _ in range(3)] == [200, 200, 429]  # burst of TOKEN
    second = http.get(listing, headers=auth(other))  # another token: a burst of its own, the location's day
    assert second.status_code == 200 and second.headers["X-RateLimit-Daily-Remaining"] == "0"
    assert http.get(listing, headers=auth(other)).status_code == 429  # the location's 3 a day are spent
    assert http.get(f"/phone-system/numbers/location/{UK_LOCATION}", headers=auth(UK_TOKEN)).status_code == 200


def _connections_per_worker(base_url: str, workers: int) -> list[httpx.Client]:
    """One keep-alive connection on each worker (told apart by the replica its health check names)."""
    found: dict[str, httpx.Client] = {}
    spare: list[httpx.Client] = []
    for _ in range(60):
        client = httpx.Client(base_url=base_url, limits=httpx.Limits(max_connections=1))
        replica = client.get("/__admin/health").json()["replica"]
        if replica in found:
            spare.append(client)
        else:
            found[replica] = client
        if len(found) == workers:
            break
    for client in spare:
        client.close()
    assert len(found) == workers, "the connections all went to one worker"
    return list(found.values())


def test_workers_share_one_limit(serve, tmp_path) -> None:
    served = serve(
        "--workers", "2", "--state", str(tmp_path / "state.db"),
        "--rate-limit", "--rate-limit-burst", "6", "--rate-limit-window-ms", "60000",
    )  # fmt: skip
    clients = _connections_per_worker(served.base_url, 2)
    listing = f"/phone-system/numbers/location/{LOCATION}"
    statuses = [clients[i % 2].get(listing, headers=auth()).status_code for i in range(12)]
    for client in clients:
        client.close()
    assert statuses == [200] * 6 + [429] * 6  # not 12 x 200: each worker counting its own


def test_replicas_share_one_limit(serve, postgres_url: str) -> None:
    from replicas import start_replicas

    replicas = start_replicas(
        serve, postgres_url, 2, "--rate-limit", "--rate-limit-burst", "4", "--rate-limit-window-ms", "60000"
    )
    listing = f"/phone-system/numbers/location/{LOCATION}"
    statuses = [httpx.get(replicas[i % 2].base_url + listing, headers=auth()).status_code for i in range(8)]
    assert statuses == [200] * 4 + [429] * 4
