"""The admin API: health, reset, tokens, scenarios, seeding helpers, journal."""

from __future__ import annotations

import pytest

from helpers import LOCATION, TOKEN, Api, auth, problems


def test_health(http) -> None:
    response = http.get("/__admin/health")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "seed", "scenario", "inventory", "versions")} == {
        "status": "ok",
        "seed": 1,
        "scenario": "default",
        "inventory": 2400,
        "versions": ["v3", "2021-07-28"],
    }
    assert body["store"] == {"store": "memory", "ok": True} and body["replica"]


def test_reset_returns_to_the_scenarios_starting_state(api: Api, http) -> None:
    before = api.active(skipNumberPool=False).content
    number, bought = api.buy_first()
    assert bought.status_code == 201
    assert api.active(skipNumberPool=False).content != before
    assert http.post("/__admin/reset").status_code == 200
    assert api.active(skipNumberPool=False).content == before
    again = api.search().json()
    assert number["phoneNumber"] in [n["phoneNumber"] for n in again["numbers"]]


def test_minted_token_has_all_scopes_by_default(http, api: Api) -> None:
    response = http.post("/__admin/tokens", json={"locationId": LOCATION})
    assert response.status_code == 201
    body = response.json()
    assert body["locationId"] == LOCATION
    assert sorted(body["scopes"]) == ["numberpools.read", "phonenumbers.read", "phonenumbers.write"]
    assert api.active(token=body["token"]).status_code == 200
    assert api.pools(token=body["token"]).status_code == 200


def test_minted_token_with_chosen_scopes(http, api: Api) -> None:
    token = http.post("/__admin/tokens", json={"locationId": LOCATION, "scopes": ["numberpools.read"]}).json()["token"]
    assert api.pools(token=token).status_code == 200
    assert api.active(token=token).status_code == 401


def test_unknown_location_is_created_on_first_use_with_an_empty_phone_system(http, api: Api) -> None:
    token = http.post("/__admin/tokens", json={"locationId": "brand-new-location"}).json()["token"]
    listed = api.active("brand-new-location", token)
    assert listed.status_code == 200
    assert listed.json()["data"]["numbers"] == [] and listed.json()["data"]["total"] == 0
    number, bought = api.buy_first("brand-new-location", token)
    assert bought.status_code == 201
    assert api.all_active_numbers("brand-new-location", token) == [number["phoneNumber"]]


def test_bad_token_requests_are_refused_with_the_field_named(http) -> None:
    for body, field in [
        ({}, "locationId"),
        ({"locationId": "a/b"}, "locationId"),
        ({"locationId": "x", "scopes": ["admin"]}, "scopes"),
        ({"locationId": "x", "scopes": "all"}, "scopes"),
    ]:
        response = http.post("/__admin/tokens", json=body)
        assert problems(response)[0].startswith(field), response.text
    assert http.post("/__admin/tokens", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400


SCENARIO = {
    "name": "tiny",
    "locations": [
        {
            "id": "tinyLocation",
            "tokens": [{"value": "pit-tiny-token-000001"}],
            "numbers": [{"draw": {"countryCode": "AU", "numberType": "mobile", "count": 3}}],
            "pools": [{"name": "All", "numbers": 3}],
        },
    ],
}


def test_load_a_scenario(http, api: Api) -> None:
    response = http.post("/__admin/scenario", json=SCENARIO)
    assert response.status_code == 200 and response.json()["scenario"] == "tiny"
    assert api.active(token=TOKEN).status_code == 401  # the default scenario's tokens are gone
    listed = api.active("tinyLocation", "pit-tiny-token-000001", skipNumberPool=False).json()["data"]
    assert listed["total"] == 3 and all(n["phoneNumber"].startswith("+614") for n in listed["numbers"])
    assert api.active("tinyLocation", "pit-tiny-token-000001").json()["data"]["total"] == 0  # all pooled
    assert http.get("/__admin/scenario").json() == SCENARIO
    http.post("/__admin/reset")
    assert api.active("tinyLocation", "pit-tiny-token-000001", skipNumberPool=False).json()["data"]["total"] == 3


def test_load_a_scenario_as_yaml(http) -> None:
    yaml_text = "name: from-yaml\nlocations:\n  - id: yamlLocation\n"
    response = http.post("/__admin/scenario", content=yaml_text, headers={"Content-Type": "application/yaml"})
    assert response.status_code == 200 and response.json()["scenario"] == "from-yaml"


def test_a_bad_scenario_is_refused_and_the_old_one_kept(http, api: Api) -> None:
    bad = {"name": "bad", "locations": [{"id": "x", "accountStatus": "frozen", "colour": "red"}]}
    response = http.post("/__admin/scenario", json=bad)
    messages = " ".join(problems(response))
    assert "locations.0.accountStatus" in messages and "colour" in messages
    assert api.active().status_code == 200


def test_add_numbers_and_pools_to_a_location(http, api: Api) -> None:
    added = http.post(
        f"/__admin/locations/{LOCATION}/numbers", json={"countryCode": "CA", "numberType": "tollFree", "count": 2}
    )
    assert added.status_code == 201
    new_numbers = [n["phoneNumber"] for n in added.json()["numbers"]]
    assert len(new_numbers) == 2 and all(n in api.all_active_numbers() for n in new_numbers)
    owned = http.post(
        f"/__admin/locations/{LOCATION}/numbers", json={"phoneNumber": "+442079460123", "origin": "hosted"}
    )
    assert owned.status_code == 201 and owned.json()["numbers"][0]["origin"] == "hosted"
    pool = http.post(f"/__admin/locations/{LOCATION}/pools", json={"name": "Support", "numbers": new_numbers})
    assert pool.status_code == 201
    assert {n["phoneNumber"] for n in pool.json()["numbers"]} == set(new_numbers)
    assert api.pools().json()["total"] == 2
    assert not set(new_numbers) & set(api.all_active_numbers())


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("numbers", {"countryCode": "US", "numberType": "x", "count": 1}, "numberType"),
        ("numbers", {"phoneNumber": "+10000000000"}, "phoneNumber"),
        ("numbers", {"phoneNumber": "+14155550199"}, "already belongs"),
        ("pools", {"name": "x", "numbers": ["+14155550100"]}, "numbers"),
        ("numbers", {"countryCode": "US", "numberType": "local", "count": 100000}, "count"),
        ("numbers", {"countryCode": "US", "numberType": "local", "count": 9000}, "count"),
        ("numbers", {"countryCode": "FR", "numberType": "local", "count": 1}, "countryCode"),
        ("numbers", {"countryCode": "US", "numberType": "local", "count": 0}, "count"),
    ],
)
def test_seeding_helpers_refuse_bad_input_naming_the_field(http, path: str, body: dict, named: str) -> None:
    found = problems(http.post(f"/__admin/locations/{LOCATION}/{path}", json=body))
    assert any(named in p for p in found), found


def test_create_a_location(http, api: Api) -> None:
    response = http.post(
        "/__admin/locations", json={"id": "newLoc", "isUnderLc": False, "tokens": [{"value": "pit-newloc-token-0001"}]}
    )
    assert response.status_code == 201
    assert api.active("newLoc", "pit-newloc-token-0001").json()["data"]["isUnderLc"] is False
    assert http.post("/__admin/locations", json={"id": "newLoc"}).status_code == 409


def test_journal_lists_requests_with_their_verdict(http) -> None:
    http.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth())
    http.get(f"/phone-system/numbers/location/{LOCATION}", params={"pageSize": 5000}, headers=auth(version=None))
    entries = http.get("/__admin/journal").json()["requests"]
    assert [e["conforms"] for e in entries] == [True, False]
    broken = entries[1]
    assert broken["status"] == 400 and broken["operationId"] == "listActiveNumbers"
    assert {v["field"] for v in broken["violations"]} == {"pageSize", "header Version"}
    assert broken["version"] == "v3" and entries[0]["version"] == "v3"
    assert all(v["contract"].startswith("#/") for v in broken["violations"])
    assert http.delete("/__admin/journal").status_code == 200
    assert http.get("/__admin/journal").json()["requests"] == []


def test_admin_errors_use_the_error_shape(http) -> None:
    response = http.get("/__admin/nothing-here")
    assert response.status_code == 404 and response.json()["statusCode"] == 404
