"""Listing a location's active numbers over HTTP: envelope, paging, filters, pools, RCS."""

from __future__ import annotations

import pytest

from helpers import (
    LEGACY,
    LOCATION,
    SUSPENDED_LOCATION,
    SUSPENDED_TOKEN,
    TOKEN,
    UK_LOCATION,
    UK_TOKEN,
    UNCONNECTED_LOCATION,
    UNCONNECTED_TOKEN,
    Api,
)


def data(response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and body["statusCode"] == 200 and body["message"]
    return body["data"]


def test_answer_is_the_v3_envelope_with_renamed_fields(api: Api) -> None:
    response = api.active()
    payload = data(response)
    assert payload["isUnderLc"] is True
    assert payload["accountStatus"] == "active"
    assert payload["page"] == 0 and payload["pageSize"] == 50
    assert payload["total"] == len(payload["numbers"]) == 5  # 7 owned, 2 of them in the pool
    assert "isUnderGhl" not in response.text and "under_ghl_account" not in response.text
    assert "rcsSenderIds" not in payload


def test_is_under_lc_and_account_status_come_from_the_location(api: Api) -> None:
    assert data(api.active(UK_LOCATION, UK_TOKEN))["isUnderLc"] is False
    assert data(api.active(SUSPENDED_LOCATION, SUSPENDED_TOKEN))["accountStatus"] == "suspended"


def test_skip_number_pool_defaults_to_true_and_false_includes_pooled_numbers(api: Api) -> None:
    pooled = {n["phoneNumber"] for pool in api.pools().json()["data"] for n in pool["numbers"]}
    assert len(pooled) == 2
    default = {n["phoneNumber"] for n in data(api.active())["numbers"]}
    explicit = {n["phoneNumber"] for n in data(api.active(skipNumberPool=True))["numbers"]}
    everything = {n["phoneNumber"] for n in data(api.active(skipNumberPool=False))["numbers"]}
    assert default == explicit and not (default & pooled)
    assert everything == default | pooled


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
def test_pages_cover_the_list_exactly_once_in_a_stable_order(api: Api, page_size: int) -> None:
    for _ in range(4):
        assert api.buy_first()[1].status_code == 201
    everything = data(api.active(pageSize=1000, skipNumberPool=False))
    collected, page = [], 0
    while True:
        chunk = data(api.active(pageSize=page_size, page=page, skipNumberPool=False))
        assert chunk["total"] == everything["total"] and chunk["pageSize"] == page_size and chunk["page"] == page
        if not chunk["numbers"]:
            break
        assert len(chunk["numbers"]) <= page_size
        collected += chunk["numbers"]
        page += 1
    assert collected == everything["numbers"]
    keys = [(n["dateAdded"], n["phoneNumber"]) for n in collected]
    assert keys == sorted(keys)


def test_a_page_past_the_end_is_empty_with_the_real_total(api: Api) -> None:
    payload = data(api.active(page=99))
    assert payload["numbers"] == [] and payload["total"] == 5


def test_search_filter_is_a_partial_match_on_digits_and_friendly_name(api: Api) -> None:
    numbers = data(api.active(skipNumberPool=False))["numbers"]
    target = numbers[0]
    digits = target["phoneNumber"][-6:-2]
    by_digits = data(api.active(searchFilter=digits, skipNumberPool=False))["numbers"]
    assert target in by_digits and all(digits in n["phoneNumber"] for n in by_digits)
    formatted = target["friendlyName"][:5]  # "(415)"-style prefix
    by_name = data(api.active(searchFilter=formatted, skipNumberPool=False))["numbers"]
    assert target in by_name
    assert data(api.active(searchFilter="000000000"))["numbers"] == []
    assert data(api.active(searchFilter="", skipNumberPool=False))["total"] == len(numbers)


def test_search_filter_counts_the_plus_as_the_vendor_documents(api: Api) -> None:
    # D13: the vendor's example "+91" finds the Indian numbers; so "+55" finds no US number, though
    # +14155550199 has 55 in it, and "+1 415" finds it.
    listed = lambda text: [
        n["phoneNumber"] for n in data(api.active(searchFilter=text, skipNumberPool=False))["numbers"]
    ]
    assert "+14155550199" in listed("55") and listed("+55") == []
    assert "+14155550199" in listed("+1415") and "+14155550199" in listed("+1 415") == listed("+1415")
    assert "+14155550199" in listed("(415) 555")
    assert all(number.startswith("+1") for number in listed("+1")) and listed("+44") == []


def test_include_rcs_sender_ids_adds_them(api: Api) -> None:
    payload = data(api.active(includeRcsSenderIds=True))
    assert payload["rcsSenderIds"] == [
        {
            "number": "acme_plumbing_agent",
            "numberType": "rcsSenderId",
            "friendlyName": "Acme Plumbing",
            "rcsMeta": {"brandId": "brand-acme-plumbing"},
        }
    ]
    assert "rcsSenderIds" not in data(api.active(includeRcsSenderIds=False))


def test_active_number_records_have_the_vendor_fields(api: Api) -> None:
    numbers = data(api.active(skipNumberPool=False))["numbers"]
    ported = next(n for n in numbers if n["phoneNumber"] == "+14155550199")
    assert ported["origin"] == "ported" and ported["forwardingNumber"] == "+14155550100"
    assert ported["dateCreated"] == ported["dateAdded"]  # another provider's number (D28)
    bought = [n for n in numbers if n["origin"] == "twilio"]
    assert bought and all("dateCreated" not in n for n in bought)
    # v3 leaves out what the number has none of, rather than send null where the vendor types no null (D26).
    assert all("addressSid" not in n and "bundleSid" not in n and "inboundCallService" not in n for n in bought)
    assert {n["type"] for n in numbers} == {"local", "toll-free"}
    assert sum(n["isDefaultNumber"] for n in numbers) == 1


def test_location_without_phone_system_gets_404(api: Api) -> None:
    response = api.active(UNCONNECTED_LOCATION, UNCONNECTED_TOKEN)
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Phone system is not connected to this account"}


def test_one_location_never_sees_another_locations_numbers(api: Api) -> None:
    acme = set(api.all_active_numbers(skipNumberPool=False))
    uk = set(api.all_active_numbers(UK_LOCATION, UK_TOKEN, skipNumberPool=False))
    assert acme and uk and not (acme & uk)
    assert all(n.startswith("+44") for n in uk)
    assert LOCATION != UK_LOCATION


def legacy_body(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_at_2021_07_28_the_answer_is_bare_with_the_legacy_names(api: Api) -> None:
    v3 = data(api.active(skipNumberPool=False))
    legacy = legacy_body(api.active(version=LEGACY, skipNumberPool=False))
    assert set(legacy) == {"numbers", "isUnderGhl", "pageSize", "page", "accountStatus"}  # no total (D30)
    assert legacy["isUnderGhl"] is True and legacy["pageSize"] == 1000 and legacy["page"] == 0  # the default is 1000
    assert [n["phoneNumber"] for n in legacy["numbers"]] == [n["phoneNumber"] for n in v3["numbers"]]
    record = next(n for n in legacy["numbers"] if n["origin"] == "twilio")
    # Every field of the vendor's DetailedPhoneNumberDto, null where the number has none.
    assert record["addressSid"] is None and record["inboundCallService"] is None and record["forwardingNumber"] is None
    assert "dateCreated" not in record
    assert "isUnderLc" not in str(legacy) and "status" not in legacy


def test_a_number_bought_at_v3_is_listed_at_2021_07_28(api: Api) -> None:
    number, bought = api.buy_first()
    assert bought.status_code == 201
    legacy = legacy_body(api.active(version=LEGACY, searchFilter=number["phoneNumber"]))
    assert [n["phoneNumber"] for n in legacy["numbers"]] == [number["phoneNumber"]]


def test_include_rcs_sender_ids_is_unknown_at_2021_07_28_and_ignored(api: Api) -> None:
    assert "rcsSenderIds" not in legacy_body(api.active(version=LEGACY, includeRcsSenderIds=True))


@pytest.mark.parametrize(("page_size", "page"), [("2.0", "1.0"), ("2", "1"), ("2.00", "1e0")])
def test_whole_number_decimals_are_accepted_for_page_and_page_size(api: Api, page_size: str, page: str) -> None:
    payload = data(api.active(pageSize=page_size, page=page, skipNumberPool=False))
    assert payload["pageSize"] == 2 and payload["page"] == 1 and len(payload["numbers"]) == 2


def test_the_version_header_sent_twice_with_one_value_is_one_header(api: Api) -> None:
    headers = [("Authorization", f"Bearer {TOKEN}"), ("version", "v3"), ("Version", "v3")]
    response = api.http.get(f"/phone-system/numbers/location/{LOCATION}", headers=headers)
    assert data(response)["isUnderLc"] is True
    headers = [("Authorization", f"Bearer {TOKEN}"), ("version", LEGACY), ("Version", LEGACY)]
    assert "isUnderGhl" in legacy_body(api.http.get(f"/phone-system/numbers/location/{LOCATION}", headers=headers))
