"""What lcphone's own tests share: the default scenario's names, one API client helper, one purchase-body builder.

Every answer the helpers receive is checked against the contract of the version the request asked for, in the
sandbox profile (what the sandbox always sends, D25).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from typing import Any

import httpx

from mockserver.contract.conformance import conformance
from mockserver.contract.responses import check_response
from mockserver.errors import NUMBER_NO_LONGER_AVAILABLE

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
V3, LEGACY = "v3", "2021-07-28"
SOLD = NUMBER_NO_LONGER_AVAILABLE

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


def auth(token: str = TOKEN, version: str | None = V3) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if version is not None:
        headers["Version"] = version
    return headers


def contract_problems(response: httpx.Response) -> list[str]:
    """What is wrong with an answer, against the contract of the version its request asked for (sandbox profile)."""
    request = response.request
    verdict = conformance().verdict(request.method, request.url.path, "", request.headers.raw)
    if verdict.spec is None:
        return []
    response.read()
    problems = check_response(verdict.spec, response.status_code, response.headers, response.content, "sandbox")
    return [str(p) for p in problems]


def assert_conforms(response: httpx.Response) -> None:
    """Every answer of the four operations must be what the contract says, errors included."""
    problems = contract_problems(response)
    assert not problems, f"{response.request.method} {response.request.url} -> {response.status_code}: " + "; ".join(
        problems
    )


def problems(response: httpx.Response, status: int = 400) -> list[str]:
    """The problems an error answer names (its message, split), after checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["statusCode"] == status and isinstance(body["message"], str)
    return body["message"].split("; ")


def purchase_body(number: dict[str, Any], fingerprint: str, **overrides: Any) -> dict[str, Any]:
    """A v3 purchase body for a number an answer offered (every field, as v3 requires them all)."""
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


def offered(phone_number: str, country: str = "US", number_type: str = "local") -> dict[str, Any]:
    """A number as a search would offer it, for building a purchase of a number no search offered."""
    return {"phoneNumber": phone_number, "isoCountry": country, "price": {"number_type": number_type}}


class Api:
    """The four operations with sensible defaults, so that each test states only what it varies."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def pools(self, location: str | None = LOCATION, token: str = TOKEN, version: str | None = None) -> httpx.Response:
        params = {"locationId": location} if location is not None else {}
        return self.http.get("/phone-system/number-pools", params=params, headers=auth(token, version))

    def search(
        self, location: str = LOCATION, token: str = TOKEN, version: str | None = None, **params: Any
    ) -> httpx.Response:
        defaults = SEARCH_DEFAULTS if version != LEGACY else {"countryCode": "US"}
        query = {**defaults, **{k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}}
        return self.http.get(
            f"/phone-system/numbers/location/{location}/available", params=query, headers=auth(token, version)
        )

    def purchase(
        self, body: Any, location: str = LOCATION, token: str = TOKEN, version: str = V3, **kwargs: Any
    ) -> httpx.Response:
        return self.http.post(
            f"/phone-system/numbers/location/{location}/purchase", json=body, headers=auth(token, version), **kwargs
        )

    def buy_first(
        self, location: str = LOCATION, token: str = TOKEN, version: str = V3, **search: Any
    ) -> tuple[dict[str, Any], httpx.Response]:
        """Searches, then buys the first number found; returns (number, purchase answer)."""
        found = self.search(location, token, **search)
        assert found.status_code == 200, found.text
        number = found.json()["numbers"][0]
        return number, self.purchase(purchase_body(number, found.json()["fingerprintId"]), location, token, version)

    def active(self, location: str = LOCATION, token: str = TOKEN, version: str = V3, **params: Any) -> httpx.Response:
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
        return self.http.get(f"/phone-system/numbers/location/{location}", params=query, headers=auth(token, version))

    def all_active_numbers(self, location: str = LOCATION, token: str = TOKEN, **params: Any) -> list[str]:
        response = self.active(location, token, pageSize=1000, **params)
        assert response.status_code == 200, response.text
        return [n["phoneNumber"] for n in response.json()["data"]["numbers"]]


class RoundRobin(httpx.BaseTransport):
    """Spreads requests over several sandboxes sharing one state, as a load balancer would (one after another)."""

    def __init__(self, base_urls: list[str]) -> None:
        self.targets = [httpx.URL(url) for url in base_urls]
        self.transport = httpx.HTTPTransport()
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            target = self.targets[next(self._turn) % len(self.targets)]
        request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
        request.headers["host"] = target.netloc.decode("ascii")
        return self.transport.handle_request(request)

    def close(self) -> None:
        self.transport.close()


def spread_client(base_urls: list[str], timeout: float = 30) -> httpx.Client:
    """A client whose requests go to each of `base_urls` in turn."""
    return httpx.Client(transport=RoundRobin(base_urls), base_url=base_urls[0], timeout=timeout)


def import_promised(module: str, requirement: str) -> Any:
    """A module the README promises tests with (the vendor's SDK): imported; when missing, a failure where the
    test extra is installed (an install that lost it), else a skip that says what to install."""
    import importlib
    import importlib.metadata

    import pytest

    try:
        return importlib.import_module(module)
    except ImportError:
        pass
    others = [
        req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
        for req in importlib.metadata.requires("lcphone") or []
        if "extra == 'test'" in req and not req.startswith(requirement.split("=")[0])
    ]
    try:
        for name in others:
            importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{requirement} is not installed (pip install -e '.[test]' installs it)", allow_module_level=True)
    pytest.fail(
        f"lcphone's test extra is installed, but not {requirement}, which its tests promise: "
        "pip install -e '.[test]' again",
        pytrace=False,
    )


def received_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends on a raw socket until it closes the connection (or the socket's timeout)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def eventually(check, seconds: float = 2.0, every: float = 0.01):
    """`check()` until it answers true (its answer), for at most `seconds`: what another replica learns of a change
    by notification (D46), it learns within a moment, not at once. The last answer otherwise, false."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(every)
