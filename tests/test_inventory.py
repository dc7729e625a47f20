"""The seeded inventory: valid numbers of the right kind for each country, realistic fields, deterministic."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from mockserver.domain.inventory import build_inventory
from mockserver.domain.numbering import NUMBER_RANGES
from mockserver.views.base import available_number

CATALOG = build_inventory(1)
KINDS = sorted(NUMBER_RANGES)


@pytest.mark.parametrize(("country", "number_type"), KINDS, ids=[f"{c}-{t}" for c, t in KINDS])
def test_every_number_is_valid_for_its_country_and_of_its_type(country: str, number_type: str) -> None:
    numbers = [n for n in CATALOG.by_country[country] if n.number_type == number_type]
    assert len(numbers) >= 100
    accepted = {
        "local": {PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE},
        "mobile": {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE},
        "tollFree": {PhoneNumberType.TOLL_FREE},
    }[number_type]
    for number in numbers:
        parsed = phonenumbers.parse(number.phone_number)
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number.phone_number
        assert phonenumbers.is_valid_number_for_region(parsed, country), number.phone_number
        assert phonenumbers.number_type(parsed) in accepted, number.phone_number
        shown = available_number(number)
        assert shown["friendlyName"] == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        assert shown["isoCountry"] == country
        assert shown["price"]["number_type"] == number_type


def test_numbers_are_unique_across_the_whole_inventory() -> None:
    all_numbers = [n.phone_number for numbers in CATALOG.by_country.values() for n in numbers]
    assert len(all_numbers) == len(set(all_numbers)) == len(CATALOG)


def test_geographic_numbers_carry_a_consistent_place() -> None:
    for number in CATALOG.by_country["US"]:
        fields = available_number(number)
        if number.number_type == "tollFree":
            assert fields["locality"] is None and fields["lata"] is None and fields["latitude"] is None
            continue
        area = next(a for a in NUMBER_RANGES[("US", "local")].areas if number.national.startswith(a.prefix))
        assert fields["locality"] == area.locality and fields["region"] == area.region and fields["lata"] == area.lata
        # Coordinates travel as strings with six decimals, as the vendor documents them (D8).
        assert len(fields["latitude"].split(".")[1]) == 6 and len(fields["longitude"].split(".")[1]) == 6
        assert abs(float(fields["latitude"]) - area.latitude) <= 0.05
        assert abs(float(fields["longitude"]) - area.longitude) <= 0.05
        assert area.postal_range[0] <= int(fields["postalCode"]) <= area.postal_range[1]
        assert len(fields["postalCode"]) == 5


def test_no_fictional_or_service_exchanges_are_sold_in_north_america() -> None:
    for country in ("US", "CA"):
        for number in CATALOG.by_country[country]:
            exchange = number.national[3:6]
            assert exchange != "555" and exchange[1:] != "11" and exchange[0] not in "01"


def test_address_requirements_and_capabilities_follow_the_country_rules() -> None:
    gb_local = [n for n in CATALOG.by_country["GB"] if n.number_type == "local"]
    assert {available_number(n)["addressRequirements"] for n in gb_local} == {"local"}
    assert not any(n.sms for n in gb_local)  # UK landlines do not take SMS
    us_local = [n for n in CATALOG.by_country["US"] if n.number_type == "local"]
    assert {available_number(n)["addressRequirements"] for n in us_local} == {"none"}
    assert all(n.sms for n in us_local) and any(n.mms for n in us_local) and not all(n.mms for n in us_local)


def test_same_seed_gives_the_same_inventory_and_another_seed_another() -> None:
    build_inventory.cache_clear()
    again = build_inventory(1)
    assert again is not CATALOG
    shown = [available_number(n) for n in again.by_number.values()]
    assert shown == [available_number(n) for n in CATALOG.by_number.values()]
    other = build_inventory(2)
    assert [n.phone_number for n in other.by_number.values()] != [n.phone_number for n in CATALOG.by_number.values()]


def test_canadian_and_british_postal_codes_follow_their_formats() -> None:
    import re

    for country, pattern in (
        ("CA", r"^[A-Z][0-9][A-Z] [0-9][A-Z][0-9]$"),
        ("GB", r"^[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}$"),
    ):
        codes = [available_number(n)["postalCode"] for n in CATALOG.by_country[country] if n.number_type == "local"]
        assert codes and all(re.match(pattern, code) for code in codes), codes[:5]


def test_friendly_names_are_what_phonenumbers_formats_from_the_e164_number() -> None:
    """Every number of two 24,000-number inventories: the block templates write what phonenumbers writes."""
    import phonenumbers

    from mockserver.domain.inventory import build_inventory

    for seed in (1, 3):
        for number in build_inventory(seed, 2000).by_number.values():
            expected = phonenumbers.format_number(
                phonenumbers.parse(number.phone_number), phonenumbers.PhoneNumberFormat.NATIONAL
            )
            assert number.friendly_name == expected, number.phone_number
