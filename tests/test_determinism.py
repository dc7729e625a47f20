"""Same seed and same requests, same bytes: ids, fingerprints, dates included."""

from __future__ import annotations

import httpx

from helpers import SEARCH_DEFAULTS, auth
from mockserver import Sandbox
from mockserver.http.transport import SyncASGITransport

LOCATION = "tDtDnQdgm2LXpyiqYvZ6"


def session(seed: int) -> list[bytes]:
    """A fixed sequence of requests against a new sandbox; the bytes of every answer."""
    sandbox = Sandbox(seed=seed)
    answers = []
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        token = client.post("/__admin/tokens", json={"locationId": "fresh-location"}).json()["token"]
        answers.append(token.encode())
        for country in ("US", "GB"):
            found = client.get(
                f"/phone-system/numbers/location/{LOCATION}/available",
                params={**SEARCH_DEFAULTS, "countryCode": country, "numberTypes": "mobile"},
                headers=auth(),
            )
            answers.append(found.content)
            number = found.json()["numbers"][0]
            body = {
                "phoneNumber": number["phoneNumber"],
                "addressSid": "AD" + "1" * 32,
                "bundleSid": "BU" + "1" * 32,
                "countryCode": country,
                "numberType": "mobile",
                "paymentIntentId": "pi_1",
                "stripeAccountId": "acct_1",
                "paymentMethodId": "pm_1",
                "locality": "",
                "region": "",
                "fingerprintId": found.json()["fingerprintId"],
                "skipLocationKYC": False,
            }
            answers.append(
                client.post(f"/phone-system/numbers/location/{LOCATION}/purchase", json=body, headers=auth()).content
            )
        answers.append(
            client.get(
                f"/phone-system/numbers/location/{LOCATION}",
                params={"skipNumberPool": "false", "includeRcsSenderIds": "true"},
                headers=auth(),
            ).content
        )
        answers.append(
            client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth()).content
        )
    return answers


def test_same_seed_same_requests_same_bytes() -> None:
    first, second = session(7), session(7)
    assert first == second
    assert b"fingerprintId" in first[1] and b'"sid":"PN' in first[-2]


def test_another_seed_gives_other_data() -> None:
    assert session(7)[1] != session(8)[1]


def test_reset_replays_the_same_bytes() -> None:
    sandbox = Sandbox()
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:

        def run() -> list[bytes]:
            found = client.get(
                f"/phone-system/numbers/location/{LOCATION}/available", params=SEARCH_DEFAULTS, headers=auth()
            )
            listed = client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth())
            return [found.content, listed.content]

        first = run()
        client.post("/__admin/reset")
        assert run() == first


def test_fingerprints_are_version_4_uuids() -> None:
    import uuid

    from mockserver.domain.ids import IdFactory

    ids = IdFactory(5)
    for n in range(500):
        value = ids.uuid("fingerprint", n)
        assert str(uuid.UUID(value)) == value and uuid.UUID(value).version == 4
        assert value == str(uuid.UUID(bytes=ids._digest("fingerprint", n, 16), version=4))
