"""Malformed requests: each gets a 4xx in the vendor's error shape that names what was wrong, never a 500."""

from __future__ import annotations

import pytest

from helpers import LEGACY, LOCATION, SEARCH_DEFAULTS, TOKEN, Api, auth, problems, purchase_body

SEARCH = f"/phone-system/numbers/location/{LOCATION}/available"
ACTIVE = f"/phone-system/numbers/location/{LOCATION}"
PURCHASE = f"/phone-system/numbers/location/{LOCATION}/purchase"


@pytest.mark.parametrize("name", sorted(SEARCH_DEFAULTS))
def test_each_missing_search_parameter_is_named(http, name: str) -> None:
    query = {k: v for k, v in SEARCH_DEFAULTS.items() if k != name}
    assert problems(http.get(SEARCH, params=query, headers=auth())) == [f"{name} is required"]


def test_the_error_is_one_string_in_the_vendors_shape(http) -> None:
    response = http.get(SEARCH, params={k: v for k, v in SEARCH_DEFAULTS.items() if k != "countryCode"}, headers=auth())
    assert response.json() == {"statusCode": 400, "message": "countryCode is required", "error": "Bad Request"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("smsEnabled", "yes"),
        ("mmsEnabled", "1"),
        ("voiceEnabled", ""),
        ("numberTypes", ""),
        ("numberTypes", "landline"),
        ("numberTypes", "local,,mobile"),
        ("firstPart", "41a"),
        ("lastPart", "1" * 16),
        ("anywhere", "+1"),
        ("countryCode", "ZZ"),
        ("countryCode", "us"),
        ("countryCode", "USA"),
    ],
)
def test_each_malformed_search_parameter_is_named(http, name: str, value: str) -> None:
    response = http.get(SEARCH, params={**SEARCH_DEFAULTS, name: value}, headers=auth())
    found = problems(response)
    assert found and all(p.startswith(f"{name}:") for p in found), found


def test_all_problems_are_listed_at_once(http) -> None:
    query = {**SEARCH_DEFAULTS, "smsEnabled": "maybe", "countryCode": "XX"}
    del query["firstPart"]
    found = problems(http.get(SEARCH, params=query, headers=auth()))
    assert sorted(p.split(":")[0].split(" ")[0] for p in found) == ["countryCode", "firstPart", "smsEnabled"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"pageSize": "5000"}, "pageSize"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "ten"}, "pageSize"),
        ({"page": "-1"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"pageSize": ""}, "pageSize"),
        ({"skipNumberPool": "no"}, "skipNumberPool"),
        ({"includeRcsSenderIds": "TRUE "}, "includeRcsSenderIds"),
        ({"searchFilter": "x" * 101}, "searchFilter"),
        ({"page": "1e400"}, "page"),
        ({"pageSize": "2.5"}, "pageSize"),
        ({"pageSize": "nan"}, "pageSize"),
        ({"page": "-0.5"}, "page"),
    ],
)
def test_each_malformed_active_numbers_parameter_is_named(http, params: dict, name: str) -> None:
    found = problems(http.get(ACTIVE, params=params, headers=auth()))
    assert found and all(p.startswith(f"{name}:") for p in found), found


def test_repeated_scalar_parameter_is_refused(http) -> None:
    response = http.get(ACTIVE + "?pageSize=1&pageSize=2", headers=auth())
    assert problems(response) == ["pageSize: must be sent once"]


@pytest.mark.parametrize("location", ["a b", "a.b", "x" * 65, "ümlaut", "a;b"])
def test_malformed_location_id_is_named(http, location: str) -> None:
    response = http.get(f"/phone-system/numbers/location/{location}", headers=auth())
    found = problems(response)
    assert found and found[0].startswith("locationId:")


def test_path_traversal_in_location_id_does_not_escape_the_route(http) -> None:
    for path in ("/phone-system/numbers/location/..%2F..%2Fadmin", "/phone-system/numbers/location/%2e%2e"):
        response = http.get(path, headers=auth())
        assert 400 <= response.status_code < 500
        assert response.json()["statusCode"] == response.status_code


def valid_body(api: Api) -> dict:
    found = api.search().json()
    return purchase_body(found["numbers"][0], found["fingerprintId"])


def test_missing_body_field_is_named(api: Api) -> None:
    for name in ("phoneNumber", "fingerprintId", "skipLocationKYC", "numberType", "paymentMethodId"):
        body = valid_body(api)
        del body[name]
        assert problems(api.purchase(body)) == [f"{name} is required"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("phoneNumber", "4155550143"),
        ("phoneNumber", 14155550143),
        ("skipLocationKYC", "yes"),
        ("numberType", {"type": "local"}),
        ("numberType", "landline"),
        ("countryCode", "ZZ"),
        ("fingerprintId", ""),
        ("addressSid", None),
        ("locality", ["x"]),
    ],
)
def test_wrong_body_field_is_named(api: Api, name: str, value) -> None:
    body = {**valid_body(api), name: value}
    found = problems(api.purchase(body))
    assert found and all(p.startswith(f"{name}:") for p in found), found


def test_unknown_body_field_is_named(api: Api) -> None:
    body = {**valid_body(api), "phonenumber": "+14155550143"}
    found = problems(api.purchase(body))
    assert len(found) == 1 and "phonenumber" in found[0]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "field"),
    [
        (b'{"phoneNumber": ', "application/json", 400, "body"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "body"),
        (b"[1, 2]", "application/json", 400, "body"),
        (b"", "application/json", 400, "body"),
        (b"phoneNumber=+14155550143", "application/x-www-form-urlencoded", 400, "header Content-Type"),
        (b'{"a": 1}', "text/plain", 400, "header Content-Type"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 413, "body"),
        (b"[" * 5_000 + b"]" * 5_000, "application/json", 400, "body"),
        (b'{"phoneNumber": "' + b"1" * 70_000 + b'"}', "application/json", 413, "body"),
    ],
    ids=["truncated", "not-utf8", "array", "empty", "form", "text", "huge", "deeply-nested", "over-64k"],
)
def test_malformed_bodies_get_a_clear_4xx(http, content: bytes, content_type: str, status: int, field: str) -> None:
    response = http.post(PURCHASE, content=content, headers={**auth(), "Content-Type": content_type})
    found = problems(response, status)
    assert any(p.startswith(field) or field in p for p in found), found


def test_missing_content_type_is_named(http) -> None:
    # NestJS reads no body without a JSON content type, and its validation answers 400 (D31).
    response = http.post(PURCHASE, content=b'{"a": 1}', headers=auth())
    assert problems(response) == ["header Content-Type: expected application/json, got nothing"]


def test_content_type_with_charset_is_accepted(api: Api, http) -> None:
    import orjson

    response = http.post(
        PURCHASE,
        content=orjson.dumps(valid_body(api)),
        headers={**auth(), "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("GET", "/phone-system/numbers"), ("POST", "/")])
def test_unknown_paths_get_404_in_the_error_shape(http, method: str, path: str) -> None:
    response = http.request(method, path, headers=auth())
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": f"Cannot {method} {path}", "error": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("DELETE", ACTIVE, "GET"), ("GET", PURCHASE, "POST"), ("POST", ACTIVE, "GET"), ("TRACE", SEARCH, "GET")],
)
def test_other_methods_on_known_paths_get_405_with_allow(http, method: str, path: str, allowed: str) -> None:
    response = http.request(method, path, headers=auth())
    assert response.status_code == 405
    assert allowed in response.headers["Allow"]
    assert response.json() == {"statusCode": 405, "message": f"Cannot {method} {path}", "error": "Method Not Allowed"}


def test_norway_is_a_country_not_a_boolean(api: Api) -> None:
    response = api.search(countryCode="NO")
    assert response.status_code == 200 and response.json()["numbers"] == []


def test_absurd_query_strings_are_answered(http) -> None:
    query = "&".join(f"p{i}={'x' * 50}" for i in range(1000))
    response = http.get(f"{ACTIVE}?{query}&pageSize=%ff%fe", headers=auth())
    assert response.status_code == 400
    assert problems(response)[0].startswith("pageSize:")


def test_header_values_are_not_reflected_into_headers(http) -> None:
    response = http.get(ACTIVE, headers={"Authorization": f"Bearer {TOKEN}", "Version": "v3\tX-Injected: 1"})
    assert response.status_code == 400
    assert "x-injected" not in response.headers


def test_a_huge_value_is_quoted_only_in_part(http) -> None:
    response = http.get(SEARCH, params={**SEARCH_DEFAULTS, "countryCode": "Z" * 10_000}, headers=auth())
    message = problems(response)[0]
    assert message.startswith("countryCode:") and len(message) < 400 and "characters" in message


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({}, "countryCode"),
        ({"countryCode": "US", "numberTypes": "landline"}, "numberTypes"),
        ({"countryCode": "US", "smsEnabled": "yes"}, "smsEnabled"),
    ],
)
def test_at_2021_07_28_search_parameters_are_checked_against_its_contract(http, params: dict, name: str) -> None:
    found = problems(http.get(SEARCH, params=params, headers=auth(version=LEGACY)))
    assert len(found) == 1 and found[0].startswith(name), found


def test_at_2021_07_28_the_purchase_body_needs_only_a_valid_phone_number(http) -> None:
    assert problems(http.post(PURCHASE, json={}, headers=auth(version=LEGACY))) == ["phoneNumber is required"]
    found = problems(
        http.post(PURCHASE, json={"phoneNumber": "+1415", "numberType": "landline"}, headers=auth(version=LEGACY))
    )
    assert [p.split(":")[0] for p in found] == ["numberType", "phoneNumber"]


def test_remembered_verdicts_tell_apart_what_differs(http, sandbox) -> None:
    """Verdicts on bodiless requests are remembered (clients repeat requests); a header left out, sent empty or
    sent right, and another token, each get their own verdict, however often each is repeated."""
    path = f"/phone-system/numbers/location/{LOCATION}"
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(3):
        missing = http.get(path, headers=bearer)
        assert missing.status_code == 400 and "Version header is required" in missing.json()["message"]
        empty = http.get(path, headers={**bearer, "Version": ""})
        assert empty.status_code == 400 and "API version ''" in empty.json()["message"]
        assert http.get(path, headers={**bearer, "Version": "v3"}).status_code == 200
        assert http.get(path, headers={"Authorization": "Bearer unknown", "Version": "v3"}).status_code == 401
        assert http.get(path, params={"pageSize": 5000}, headers=auth()).status_code == 400


def test_remembered_verdicts_are_bounded(http, sandbox) -> None:
    from mockserver.contract.requests import REMEMBERED_REQUESTS, REMEMBERED_SIZE

    for page in range(REMEMBERED_REQUESTS + 50):
        http.get(f"/phone-system/numbers/location/{LOCATION}", params={"page": page}, headers=auth())
    http.get(f"/phone-system/numbers/location/{LOCATION}", params={"searchFilter": "4" * REMEMBERED_SIZE},
             headers=auth())  # fmt: skip
    validators = sandbox.app.app.app.conformance.validators  # StoreSync -> faults -> dispatcher
    remembered = [len(v._remembered) for v in validators.values()]
    assert max(remembered) == REMEMBERED_REQUESTS
