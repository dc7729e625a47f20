"""Searching available numbers over HTTP: filters, countries, fingerprints."""

from __future__ import annotations

import pytest

from helpers import LEGACY, LOCATION, SEARCH_DEFAULTS, UNCONNECTED_LOCATION, UNCONNECTED_TOKEN, V3, Api, auth


def numbers(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["numbers"]


def test_unfiltered_search_returns_up_to_twenty_local_numbers(api: Api) -> None:
    found = numbers(api.search())
    assert len(found) == 20
    assert {n["price"]["number_type"] for n in found} == {"local"}
    assert {n["isoCountry"] for n in found} == {"US"}


@pytest.mark.parametrize("country", ["US", "CA", "GB", "AU"])
@pytest.mark.parametrize("number_type", ["local", "tollFree", "mobile"])
def test_each_country_offers_each_type(api: Api, country: str, number_type: str) -> None:
    found = numbers(api.search(countryCode=country, numberTypes=number_type))
    assert found
    assert all(n["isoCountry"] == country and n["price"]["number_type"] == number_type for n in found)
    assert all(n["phoneNumber"].startswith("+") for n in found)


def test_number_types_is_a_comma_separated_list(api: Api) -> None:
    found = numbers(api.search(numberTypes="tollFree,mobile"))
    assert {n["price"]["number_type"] for n in found} <= {"tollFree", "mobile"}
    assert len({n["price"]["number_type"] for n in found}) >= 1
    both = numbers(api.search(numberTypes="mobile,tollFree", countryCode="GB"))
    assert {n["price"]["number_type"] for n in both} <= {"tollFree", "mobile"}


def national(number: dict) -> str:
    import phonenumbers

    return str(phonenumbers.parse(number["phoneNumber"]).national_number)


def test_first_part_matches_the_beginning_of_the_national_number(api: Api) -> None:
    found = numbers(api.search(firstPart="415"))
    assert found and all(national(n).startswith("415") for n in found)
    assert all(n["locality"] == "San Francisco" for n in found)


def test_last_part_matches_the_end(api: Api) -> None:
    target = national(numbers(api.search())[3])
    found = numbers(api.search(lastPart=target[-4:]))
    assert found and all(national(n).endswith(target[-4:]) for n in found)


def test_anywhere_matches_any_part(api: Api) -> None:
    target = national(numbers(api.search())[5])
    found = numbers(api.search(anywhere=target[4:8]))
    assert any(national(n) == target for n in found)
    assert all(target[4:8] in national(n) for n in found)


def test_filters_combine_and_can_match_nothing(api: Api) -> None:
    found = numbers(api.search(firstPart="212", lastPart="7"))
    assert all(national(n).startswith("212") and national(n).endswith("7") for n in found)
    assert numbers(api.search(firstPart="999999")) == []


def test_capability_true_requires_it_and_false_does_not_exclude(api: Api) -> None:
    with_mms = numbers(api.search(mmsEnabled=True))
    assert with_mms and all(n["capabilities"]["MMS"] for n in with_mms)
    not_required = numbers(api.search(numberTypes="tollFree", mmsEnabled=False))
    assert {n["capabilities"]["MMS"] for n in not_required} == {True, False}
    assert numbers(api.search(countryCode="GB", smsEnabled=True)) == []  # UK landlines take no SMS
    assert numbers(api.search(countryCode="GB", numberTypes="mobile", smsEnabled=True))


def test_known_country_without_inventory_answers_an_empty_list(api: Api) -> None:
    assert numbers(api.search(countryCode="FR")) == []


def test_every_answer_carries_a_fresh_fingerprint(api: Api) -> None:
    first = api.search().json()["fingerprintId"]
    second = api.search().json()["fingerprintId"]
    assert first and second and first != second


def test_bought_numbers_leave_the_search_results(api: Api) -> None:
    number, response = api.buy_first()
    assert response.status_code == 201
    assert number["phoneNumber"] not in [n["phoneNumber"] for n in numbers(api.search())]


def test_search_needs_a_connected_phone_system(api: Api) -> None:
    response = api.search(UNCONNECTED_LOCATION, UNCONNECTED_TOKEN)
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Phone system is not connected to this account"}


SEARCH = f"/phone-system/numbers/location/{LOCATION}/available"


def types_found(api: Api, query: str, version: str | None = None, country: str = "GB") -> set[str]:
    response = api.http.get(f"{SEARCH}?{query}", headers=auth(version=version))
    return {n["price"]["number_type"] for n in numbers(response)}


@pytest.mark.parametrize(
    "form",
    [
        "numberTypes=mobile&numberTypes=tollFree",  # repeated keys: the vendor's Python SDK
        "numberTypes=mobile,tollFree",  # comma-joined: the description's words
        "numberTypes[]=mobile&numberTypes[]=tollFree",  # brackets: axios, the vendor's JS SDK
        "numberTypes=mobile&numberTypes[]=tollFree",  # mixed
    ],
)
def test_every_wire_form_of_number_types_is_accepted_at_v3(api: Api, form: str) -> None:
    # In GB, mobiles start with 7 and toll-free numbers with 8: each filter finds only what one listed type offers.
    for first_part, kind in (("7", "mobile"), ("8", "tollFree")):
        query = {**SEARCH_DEFAULTS, "countryCode": "GB", "firstPart": first_part}
        rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "numberTypes")
        assert types_found(api, f"{form}&{rest}") == {kind}
        assert types_found(api, f"{form}&{rest}", version=V3) == {kind}


@pytest.mark.parametrize(
    "form",
    [
        "numberTypes=mobile,tollFree",
        "numberTypes=mobile&numberTypes=tollFree",
        "numberTypes[]=mobile&numberTypes[]=tollFree",
    ],
)
def test_every_wire_form_of_number_types_is_accepted_at_2021_07_28(api: Api, form: str) -> None:
    for first_part, kind in (("7", "mobile"), ("8", "tollFree")):
        assert types_found(api, f"{form}&countryCode=GB&firstPart={first_part}", version=LEGACY) == {kind}


def test_at_2021_07_28_only_the_country_is_required(api: Api) -> None:
    found = numbers(api.search(version=LEGACY, countryCode="GB"))
    assert len(found) == 20 and {n["isoCountry"] for n in found} == {"GB"}
    every_type = numbers(api.search(version=LEGACY, countryCode="AU", firstPart="18"))
    assert {n["price"]["number_type"] for n in every_type} == {"tollFree"}
    filtered = numbers(api.search(version=LEGACY, countryCode="US", firstPart="415", smsEnabled=True))
    assert filtered and all(national(n).startswith("415") and n["capabilities"]["SMS"] for n in filtered)


def test_search_needs_no_version_header_and_answers_the_same_shape_at_both_versions(api: Api) -> None:
    bare, at_v3 = api.search(), api.search(version=V3)
    legacy = api.search(version=LEGACY, **{k: v for k, v in SEARCH_DEFAULTS.items()})
    for response in (bare, at_v3, legacy):
        body = response.json()
        assert set(body) == {"fingerprintId", "numbers"}, body
    assert [n["phoneNumber"] for n in bare.json()["numbers"]] == [n["phoneNumber"] for n in at_v3.json()["numbers"]]


def test_coordinates_are_strings_with_six_decimals(api: Api) -> None:
    number = numbers(api.search(firstPart="870"))[0]
    assert isinstance(number["latitude"], str) and isinstance(number["longitude"], str)
    assert len(number["latitude"].split(".")[1]) == 6 and abs(float(number["latitude"]) - 35.84) < 0.06
