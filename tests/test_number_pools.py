"""Listing number pools over HTTP."""

from __future__ import annotations

import pytest

from helpers import (
    AGENCY_TOKEN,
    LEGACY,
    LOCATION,
    POOLS_ONLY_TOKEN,
    TOKEN,
    UK_LOCATION,
    UK_TOKEN,
    UNCONNECTED_LOCATION,
    UNCONNECTED_TOKEN,
    V3,
    Api,
    problems,
)


def test_pools_list_the_locations_pools_whose_members_are_its_numbers(api: Api) -> None:
    response = api.pools()
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["total"] == 1  # the vendor's shape (D3)
    pool = body["data"][0]
    assert pool["name"] == "Sales rotation" and pool["whisper"] is True and pool["isActive"] is True
    owned = set(api.all_active_numbers(skipNumberPool=False))
    assert len(pool["numbers"]) == 2 and {n["phoneNumber"] for n in pool["numbers"]} <= owned
    assert all(n["friendlyName"].startswith("(") for n in pool["numbers"])


def test_pools_need_only_the_pools_scope(api: Api) -> None:
    assert api.pools(token=POOLS_ONLY_TOKEN).status_code == 200
    assert api.search(token=POOLS_ONLY_TOKEN).status_code == 401


def test_a_location_without_pools_or_phone_system_has_an_empty_list(api: Api) -> None:
    assert api.pools(UK_LOCATION, UK_TOKEN).json() == {"success": True, "data": [], "total": 0}
    assert api.pools(UNCONNECTED_LOCATION, UNCONNECTED_TOKEN).json() == {"success": True, "data": [], "total": 0}


def test_location_id_is_required_at_v3(api: Api) -> None:
    assert problems(api.pools(location=None)) == ["locationId is required"]
    assert problems(api.pools(location=None, version=V3)) == ["locationId is required"]


def test_at_2021_07_28_without_location_id_the_tokens_location_is_listed(api: Api) -> None:
    implicit = api.pools(location=None, version=LEGACY)
    assert implicit.status_code == 200
    assert implicit.json() == api.pools(version=LEGACY).json() == api.pools().json()
    assert implicit.json()["data"][0]["locationId"] == LOCATION


def test_pools_without_forwarding_number_or_whisper_message_leave_them_out(api: Api, sandbox) -> None:
    owned = api.all_active_numbers()
    sandbox.add_pool(LOCATION, {"name": "Plain", "numbers": [owned[0]]})
    plain = next(p for p in api.pools().json()["data"] if p["name"] == "Plain")
    assert "forwardingNumber" not in plain and "whisperMessage" not in plain  # not typed nullable by the vendor (D26)
    assert plain["inboundCallService"] is None


@pytest.mark.parametrize("version", [None, V3, LEGACY])
def test_agency_tokens_are_refused(api: Api, version: str | None) -> None:
    response = api.pools(token=AGENCY_TOKEN, version=version)
    assert response.status_code == 401
    assert "agency" in response.json()["message"] and TOKEN not in response.text
