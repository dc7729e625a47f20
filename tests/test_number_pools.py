"""Listing number pools over HTTP."""

from __future__ import annotations

from conftest import POOLS_ONLY_TOKEN, UK_LOCATION, UK_TOKEN, UNCONNECTED_LOCATION, UNCONNECTED_TOKEN, Api


def test_pools_list_the_locations_pools_whose_members_are_its_numbers(api: Api) -> None:
    response = api.pools()
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    pool = body["numberPools"][0]
    assert pool["name"] == "Sales rotation" and pool["whisper"] is True and pool["isActive"] is True
    owned = set(api.all_active_numbers(skipNumberPool=False))
    assert len(pool["numbers"]) == 2 and {n["phoneNumber"] for n in pool["numbers"]} <= owned
    assert all(n["friendlyName"].startswith("(") for n in pool["numbers"])


def test_pools_need_only_the_pools_scope(api: Api) -> None:
    assert api.pools(token=POOLS_ONLY_TOKEN).status_code == 200
    assert api.search(token=POOLS_ONLY_TOKEN).status_code == 401


def test_a_location_without_pools_or_phone_system_has_an_empty_list(api: Api) -> None:
    assert api.pools(UK_LOCATION, UK_TOKEN).json() == {"numberPools": [], "total": 0}
    assert api.pools(UNCONNECTED_LOCATION, UNCONNECTED_TOKEN).json() == {"numberPools": [], "total": 0}


def test_location_id_is_required(http) -> None:
    response = http.get("/phone-system/number-pools", headers={"Authorization": "Bearer pit-acme-full-access-0000000001"})
    assert response.status_code == 400
    assert response.json()["message"] == ["locationId: query parameter is required"]
