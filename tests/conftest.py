"""Shared fixtures for lcphone's own tests: a fresh sandbox per test, and clients over HTTP (ASGI, no socket)."""


from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from mockserver import Sandbox
from mockserver.contract import load as load_contract
from mockserver.response_validation import check_response
from mockserver.serve_process import ServeProcess
from mockserver.transport import SyncASGITransport

pytest_plugins = ["pytester"]

LOCATION = "tDtDnQdgm2LXpyiqYvZ6"  # default scenario: Acme Plumbing, US numbers, one pool
TOKEN = "pit-acme-full-access-0000000001"
READ_ONLY_TOKEN = "pit-acme-read-only-00000000002"
POOLS_ONLY_TOKEN = "pit-acme-pools-only-0000000003"
UK_LOCATION = "Qm3Xk9Lp2Vw7Ry5Tz1Hb"
UK_TOKEN = "pit-bright-full-access-000000004"
UNCONNECTED_LOCATION = "Nc8Jd4Fs6Gh2Kl0Mq9Wp"
UNCONNECTED_TOKEN = "pit-coastal-full-access-00000005"
SUSPENDED_LOCATION = "Sv5Tn7Bx3Cz9Dq1Fr6Gw"
SUSPENDED_TOKEN = "pit-summit-full-access-000000006"
AGENCY_TOKEN = "pit-agency-full-access-000000007"

SEARCH_DEFAULTS = {
    "firstPart": "",
    "lastPart": "",
    "anywhere": "",
    "numberTypes": "local",
    "smsEnabled": "false",
    "mmsEnabled": "false",
    "voiceEnabled": "false",
    "countryCode": "US",
}


def auth(token: str = TOKEN, version: str | None = "v3") -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if version is not None:
        headers["Version"] = version
    return headers


def _assert_conforms(response: httpx.Response) -> None:
    """Every answer of the four operations must be what the contract says, errors included."""
    operation = load_contract().match(response.request.method, response.request.url.path)
    if operation is None:
        return
    response.read()
    problems = check_response(operation, response.status_code, response.headers, response.content)
    assert not problems, f"{response.request.method} {response.request.url} -> {response.status_code}: " + "; ".join(map(str, problems))


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A raw HTTP client on the sandbox (in-process); every API answer is checked against the contract."""
    transport = SyncASGITransport(sandbox.app)
    with httpx.Client(transport=transport, base_url="http://sandbox", event_hooks={"response": [_assert_conforms]}) as client:
        yield client
    assert not sandbox.crashes, f"the sandbox crashed: {sandbox.crashes!r}"


@pytest.fixture
def raw_http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """An HTTP client on the sandbox whose answers are not checked (for faults, which break the contract on purpose)."""
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        yield client


class Api:
    """The four operations with sensible defaults, so that each test states only what it varies."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def pools(self, location: str = LOCATION, token: str = TOKEN) -> httpx.Response:
        return self.http.get("/phone-system/number-pools", params={"locationId": location}, headers=auth(token, None))

    def search(self, location: str = LOCATION, token: str = TOKEN, **params: Any) -> httpx.Response:
        query = {**SEARCH_DEFAULTS, **{k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}}
        return self.http.get(f"/phone-system/numbers/location/{location}/available", params=query, headers=auth(token, None))

    def purchase_body(self, number: dict[str, Any], fingerprint: str, **overrides: Any) -> dict[str, Any]:
        body = {
            "phoneNumber": number["phoneNumber"],
            "addressSid": "AD" + "0" * 32,
            "bundleSid": "BU" + "0" * 32,
            "countryCode": number["isoCountry"],
            "numberType": number["price"]["number_type"],
            "paymentIntentId": "pi_3PmXq2LkdIwHu7ix0s1a2b3c",
            "stripeAccountId": "acct_1PmXq2LkdIwHu7ix",
            "paymentMethodId": "pm_1PmXq2LkdIwHu7ixAbCdEf",
            "locality": number.get("locality") or "",
            "region": number.get("region") or "",
            "fingerprintId": fingerprint,
            "skipLocationKYC": False,
        }
        body.update(overrides)
        return body

    def purchase(self, body: Any, location: str = LOCATION, token: str = TOKEN, **kwargs: Any) -> httpx.Response:
        return self.http.post(f"/phone-system/numbers/location/{location}/purchase", json=body, headers=auth(token), **kwargs)

    def buy_first(self, location: str = LOCATION, token: str = TOKEN, **search: Any) -> tuple[dict[str, Any], httpx.Response]:
        """Searches, then buys the first number found; returns (number, purchase answer)."""
        found = self.search(location, token, **search)
        assert found.status_code == 200, found.text
        number = found.json()["numbers"][0]
        return number, self.purchase(self.purchase_body(number, found.json()["fingerprintId"]), location, token)

    def active(self, location: str = LOCATION, token: str = TOKEN, **params: Any) -> httpx.Response:
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
        return self.http.get(f"/phone-system/numbers/location/{location}", params=query, headers=auth(token))

    def all_active_numbers(self, location: str = LOCATION, token: str = TOKEN, **params: Any) -> list[str]:
        response = self.active(location, token, pageSize=1000, **params)
        assert response.status_code == 200, response.text
        return [n["phoneNumber"] for n in response.json()["data"]["numbers"]]


@pytest.fixture
def api(http: httpx.Client) -> Api:
    return Api(http)


@pytest.fixture
def serve() -> Iterator[Callable[..., ServeProcess]]:
    """Starts `lcphone serve --port 0 ARGS...` in a separate process; stopped after the test."""
    started: list[ServeProcess] = []

    def start(*args: str) -> ServeProcess:
        started.append(ServeProcess(*args))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.process.communicate()
