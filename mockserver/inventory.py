"""The seeded global inventory of purchasable numbers, and the search over it.

The catalog is immutable and a pure function of (seed, size): every worker and
every reset rebuilds or reuses the same one. What has been sold is not kept
here but in the sandbox's state, which search consults through `is_available`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from .numbering import NUMBER_RANGES, Area, NumberRange

DEFAULT_NUMBERS_PER_TYPE = 200
SEARCH_LIMIT = 20

_TYPE_CHECK: dict[str, frozenset[int]] = {
    "local": frozenset({PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}),
    "mobile": frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}),
    "tollFree": frozenset({PhoneNumberType.TOLL_FREE}),
}


@dataclass(frozen=True, slots=True)
class CatalogNumber:
    phone_number: str  # E.164
    national: str  # digits of the national number, what search filters match
    country: str
    number_type: str  # local | tollFree | mobile
    friendly_name: str
    sms: bool
    mms: bool
    voice: bool
    address_requirements: str
    bundle_required: bool
    available: dict[str, Any]  # the API's AvailableNumber, built once


@dataclass(frozen=True)
class SearchQuery:
    country: str
    number_types: frozenset[str]
    first_part: str = ""
    last_part: str = ""
    anywhere: str = ""
    sms: bool = False
    mms: bool = False
    voice: bool = False

    def matches(self, number: CatalogNumber) -> bool:
        national = number.national
        return (
            number.number_type in self.number_types
            and national.startswith(self.first_part)
            and national.endswith(self.last_part)
            and self.anywhere in national
            and (number.sms or not self.sms)
            and (number.mms or not self.mms)
            and (number.voice or not self.voice)
        )


class Catalog:
    def __init__(self, numbers: Iterable[CatalogNumber]) -> None:
        self.by_number: dict[str, CatalogNumber] = {}
        self.by_country: dict[str, list[CatalogNumber]] = {}
        for number in numbers:
            self.by_number[number.phone_number] = number
            self.by_country.setdefault(number.country, []).append(number)

    def __len__(self) -> int:
        return len(self.by_number)

    def get(self, phone_number: str) -> CatalogNumber | None:
        return self.by_number.get(phone_number)

    def search(
        self, query: SearchQuery, is_available: Callable[[str], bool], limit: int = SEARCH_LIMIT
    ) -> list[CatalogNumber]:
        found: list[CatalogNumber] = []
        for number in self.by_country.get(query.country, ()):
            if query.matches(number) and is_available(number.phone_number):
                found.append(number)
                if len(found) == limit:
                    break
        return found

    def draw(
        self, country: str, number_type: str, count: int, is_available: Callable[[str], bool]
    ) -> list[CatalogNumber]:
        """The first `count` available numbers of a kind, in catalog order (deterministic)."""
        query = SearchQuery(country, frozenset({number_type}))
        return self.search(query, is_available, limit=count)


def _stream_seed(seed: int, *parts: str) -> int:
    digest = hashlib.blake2b(":".join((str(seed), *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _is_plausible_nanp(national: str) -> bool:
    # Exchanges start 2-9; N11 service codes and the fictional 555 exchange are never sold.
    exchange = national[3:6]
    return exchange[0] not in "01" and exchange[1:] != "11" and exchange != "555"


def _postal_code(fake: Faker, area: Area, country: str) -> str | None:
    if area.postal_range is not None:
        width = 5 if country == "US" else 4
        return f"{fake.random_int(*area.postal_range):0{width}d}"
    if area.postal_template is not None:
        return fake.bothify(area.postal_template, letters="ABCEGHJKLMNPRSTVWXYZ").upper()
    return None


def _generate_numbers(
    seed: int, country: str, number_type: str, spec: NumberRange, count: int, taken: set[str]
) -> Iterator[CatalogNumber]:
    fake = Faker("en_US")
    fake.seed_instance(_stream_seed(seed, country, number_type))
    calling_code = phonenumbers.country_code_for_region(country)
    accepted_types = _TYPE_CHECK[number_type]
    made = 0
    while made < count:
        area: Area = fake.random_element(spec.areas)
        national = area.prefix + fake.numerify("#" * (spec.national_length - len(area.prefix)))
        if calling_code == 1 and not _is_plausible_nanp(national):
            continue
        parsed = phonenumbers.parse(f"+{calling_code}{national}")
        if not phonenumbers.is_valid_number_for_region(parsed, country):
            continue
        if phonenumbers.number_type(parsed) not in accepted_types:
            continue
        e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
        if e164 in taken:
            continue
        taken.add(e164)
        made += 1
        rnd = fake.random
        sms = rnd.random() < spec.sms
        mms = sms and rnd.random() < spec.mms
        voice = rnd.random() < spec.voice or not sms  # every number can do something
        friendly = phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
        geographic = area.latitude is not None
        available = {
            "phoneNumber": e164,
            "friendlyName": friendly,
            "isoCountry": country,
            "lata": area.lata,
            "locality": area.locality,
            "rateCenter": area.rate_center,
            "latitude": round(area.latitude + rnd.uniform(-0.05, 0.05), 6) if geographic else None,
            "longitude": round(area.longitude + rnd.uniform(-0.05, 0.05), 6) if geographic else None,
            "region": area.region,
            "postalCode": _postal_code(fake, area, country),
            "addressRequirements": spec.address_requirements,
            "beta": rnd.random() < 0.02,
            "capabilities": {"MMS": mms, "SMS": sms, "voice": voice},
            "price": {"number_type": number_type, "price": spec.price, "price_unit": "USD"},
        }
        yield CatalogNumber(
            phone_number=e164,
            national=str(parsed.national_number),
            country=country,
            number_type=number_type,
            friendly_name=friendly,
            sms=sms,
            mms=mms,
            voice=voice,
            address_requirements=spec.address_requirements,
            bundle_required=spec.bundle_required,
            available=available,
        )


@functools.lru_cache(maxsize=8)
def build_catalog(seed: int, numbers_per_type: int = DEFAULT_NUMBERS_PER_TYPE) -> Catalog:
    """The inventory for a seed: `numbers_per_type` numbers for each (country, type)."""
    taken: set[str] = set()
    numbers: list[CatalogNumber] = []
    for (country, number_type), spec in NUMBER_RANGES.items():
        numbers.extend(_generate_numbers(seed, country, number_type, spec, numbers_per_type, taken))
    return Catalog(numbers)
