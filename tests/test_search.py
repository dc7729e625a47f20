"""Searching available numbers over HTTP: filters, countries, fingerprints."""

from __future__ import annotations

import pytest

from conftest import UNCONNECTED_LOCATION, UNCONNECTED_TOKEN, Api


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
    assert response.json()["message"] == "Phone system not connected"
