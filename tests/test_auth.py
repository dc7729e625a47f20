"""Tokens, scopes, location access and the Version header, as the vendor answers them."""

from __future__ import annotations

import pytest

from helpers import AGENCY_TOKEN, LEGACY, LOCATION, READ_ONLY_TOKEN, TOKEN, UK_LOCATION, UK_TOKEN, Api, auth, problems

ACTIVE = f"/phone-system/numbers/location/{LOCATION}"


@pytest.mark.parametrize(
    "headers",
    [
        {"Version": "v3"},
        {"Version": "v3", "Authorization": "Bearer not-a-token"},
        {"Version": "v3", "Authorization": f"Basic {TOKEN}"},
        {"Version": "v3", "Authorization": "Bearer"},
    ],
    ids=["missing", "unknown", "not-bearer", "empty"],
)
def test_no_or_bad_token_gets_401_invalid_jwt(http, headers: dict) -> None:
    response = http.get(ACTIVE, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "message": "Invalid JWT"}


@pytest.mark.parametrize(
    ("call", "scope"),
    [
        (lambda api: api.pools(token=READ_ONLY_TOKEN), "numberpools.read"),
        (lambda api: api.search(token="pit-acme-pools-only-0000000003"), "phonenumbers.read"),
        (lambda api: api.active(token="pit-acme-pools-only-0000000003"), "phonenumbers.read"),
        (lambda api: api.purchase({}, token=READ_ONLY_TOKEN), "phonenumbers.write"),
    ],
    ids=["pools", "search", "active", "purchase"],
)
def test_missing_scope_is_refused_naming_the_scope(api: Api, call, scope: str) -> None:
    response = call(api)
    assert response.status_code == 401
    assert response.json()["message"] == f"The token is not authorized for this scope: {scope}"


def test_token_of_another_location_gets_403(api: Api) -> None:
    for response in (
        api.active(UK_LOCATION),
        api.search(UK_LOCATION),
        api.pools(UK_LOCATION),
        api.active(LOCATION, UK_TOKEN),
    ):
        assert response.status_code == 403
        assert response.json() == {"statusCode": 403, "message": "The token does not have access to this location."}


def test_agency_tokens_are_refused_on_every_operation(api: Api) -> None:
    # The vendor's documents require a location (sub-account) token on all four operations (D15).
    for response in (
        api.active(LOCATION, AGENCY_TOKEN),
        api.active(UK_LOCATION, AGENCY_TOKEN),
        api.search(token=AGENCY_TOKEN),
        api.pools(token=AGENCY_TOKEN),
        api.purchase({}, token=AGENCY_TOKEN),
    ):
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized" and "agency" in response.json()["message"]


@pytest.mark.parametrize("path", [ACTIVE, f"{ACTIVE}/purchase"])
def test_version_header_is_required_where_the_reference_says(http, path: str) -> None:
    method = http.post if path.endswith("purchase") else http.get
    missing = method(path, headers=auth(version=None))
    assert missing.status_code == 400
    assert "Version" in missing.json()["message"] and "v3" in missing.json()["message"]
    assert LEGACY in missing.json()["message"]  # both supported versions are named


@pytest.mark.parametrize("version", ["2023-02-21", "V3", "v2", "", "2021-07-28 "])
def test_an_unknown_version_names_the_supported_ones(http, version: str) -> None:
    response = http.get(ACTIVE, headers=auth(version=version))
    if version.strip() == LEGACY:  # surrounding blanks are not part of a header value
        assert response.status_code == 200
        return
    message = problems(response)[0]
    assert message.startswith(
        "Endpoint GET /phone-system/numbers/location/{locationId} is not available in API version"
    )
    assert "Version: v3 or Version: 2021-07-28" in message


def test_conflicting_version_headers_are_refused_naming_both(http) -> None:
    headers = [("Authorization", f"Bearer {TOKEN}"), ("version", LEGACY), ("Version", "v3")]
    message = problems(http.get(ACTIVE, headers=headers))[0]
    assert message.startswith("Conflicting Version headers") and "'2021-07-28'" in message and "'v3'" in message
    reversed_order = [("Authorization", f"Bearer {TOKEN}"), ("Version", "v3"), ("version", LEGACY)]
    assert http.get(ACTIVE, headers=reversed_order).status_code == 400


def test_version_is_checked_before_the_token(http) -> None:
    response = http.get(ACTIVE, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 400


def test_search_and_pools_do_not_require_version(api: Api) -> None:
    assert api.search().status_code == 200 and api.pools().status_code == 200


def test_at_2021_07_28_every_operation_takes_the_same_tokens_and_scopes(api: Api) -> None:
    assert api.active(version=LEGACY).status_code == 200
    refused = api.active(token="pit-acme-pools-only-0000000003", version=LEGACY)
    assert refused.status_code == 401 and "phonenumbers.read" in refused.json()["message"]
    assert api.active(UK_LOCATION, version=LEGACY).status_code == 403


def test_header_names_are_case_insensitive(http) -> None:
    response = http.get(ACTIVE, headers={"authorization": f"bearer {TOKEN}", "VERSION": "v3"})
    assert response.status_code == 200


def test_every_answer_carries_the_rate_limit_headers(api: Api) -> None:
    first = api.active()
    second = api.active()
    for response in (first, second, api.active(token="nope"), api.search(countryCode="??")):
        for name in (
            "X-RateLimit-Limit-Daily",
            "X-RateLimit-Daily-Remaining",
            "X-RateLimit-Interval-Milliseconds",
            "X-RateLimit-Max",
            "X-RateLimit-Remaining",
        ):
            assert response.headers[name].isdigit()
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1
    assert first.headers["X-RateLimit-Max"] == "100" and first.headers["X-RateLimit-Interval-Milliseconds"] == "10000"
