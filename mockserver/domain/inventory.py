"""The seeded global inventory of purchasable numbers, and the search over it.

The inventory is immutable and a pure function of (seed, size): every worker and
every reset rebuilds or reuses the same one. What has been sold is not kept
here but in the sandbox's state, which search consults through `is_available`.

It is built to scale to millions of numbers: each number is a small object
(the fields a search filters on); the rest of its answer (friendly name,
coordinates, postal code...) is derived when it is shown, from a random source
seeded by the number itself. Searches walk indexes (numbers sorted by their
digits, and by their digits reversed) and stop at the first page of results,
so their cost does not grow with the inventory.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from .numbering import NUMBER_RANGES, Area, NumberRange

DEFAULT_NUMBERS_PER_TYPE = 200
SEARCH_LIMIT = 20
BLOCK_DIGITS = 3  # numbers are drawn in blocks of 1,000 that phonenumbers has validated at both ends

_TYPE_CHECK: dict[str, frozenset[int]] = {
    "local": frozenset({PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}),
    "mobile": frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}),
    "tollFree": frozenset({PhoneNumberType.TOLL_FREE}),
}
_SMS, _MMS, _VOICE, _BETA = 1, 2, 4, 8


def _stream_seed(seed: int, *parts: str) -> int:
    digest = hashlib.blake2b(":".join((str(seed), *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _national_format(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164), PhoneNumberFormat.NATIONAL)


@functools.lru_cache(maxsize=65_536)
def _name_template(country: str, block: str, length: int) -> str | None:
    """How phonenumbers writes every number of a block (its digits as `{}`), or None where the block's first and
    last numbers are not written alike (then each number is formatted on its own)."""
    calling_code = phonenumbers.country_code_for_region(country)
    templates = set()
    for ends in ("0", "9"):
        sample = block + ends * (length - len(block))
        written = _national_format(f"+{calling_code}{sample}")
        positions = [i for i, ch in enumerate(written) if ch.isdigit()][-length:]
        if len(positions) < length or "".join(written[i] for i in positions) != sample:
            return None
        chars = [ch.replace("{", "{{").replace("}", "}}") for ch in written]
        for i in positions:
            chars[i] = "{}"
        templates.add("".join(chars))
    return templates.pop() if len(templates) == 1 else None


@dataclass(frozen=True, slots=True)
class InventoryNumber:
    phone_number: str  # E.164
    national: str  # digits of the national number, what search filters match
    country: str
    number_type: str  # local | tollFree | mobile
    flags: int  # capabilities and beta, as bits
    area: Area
    spec: NumberRange
    seed: int

    @property
    def sms(self) -> bool:
        return bool(self.flags & _SMS)

    @property
    def mms(self) -> bool:
        return bool(self.flags & _MMS)

    @property
    def voice(self) -> bool:
        return bool(self.flags & _VOICE)

    @property
    def address_requirements(self) -> str:
        return self.spec.address_requirements

    @property
    def bundle_required(self) -> bool:
        return self.spec.bundle_required

    @property
    def friendly_name(self) -> str:
        """The national format phonenumbers gives, through its block's template (formatting is the slow part of
        a purchase otherwise)."""
        national = self.national
        template = _name_template(self.country, national[:-BLOCK_DIGITS], len(national))
        return template.format(*national) if template is not None else _national_format(self.phone_number)

    @property
    def beta(self) -> bool:
        return bool(self.flags & _BETA)

    @property
    def place(self) -> Place:
        """Where the number is: its area's place, with coordinates and a postal code drawn for this number."""
        return _place(self)


@dataclass(frozen=True, slots=True)
class Place:
    latitude: float | None
    longitude: float | None
    postal_code: str | None


_FAKE = Faker("en_US")
_FAKE_LOCK = threading.Lock()


def _place(number: InventoryNumber) -> Place:
    """Coordinates near the area's centre and a postal code of its range, from Faker seeded by the number."""
    area, country = number.area, number.country
    with _FAKE_LOCK:
        _FAKE.seed_instance(_stream_seed(number.seed, number.phone_number))
        latitude = longitude = None
        if area.latitude is not None and area.longitude is not None:
            latitude = round(area.latitude + _FAKE.pyfloat(min_value=-0.05, max_value=0.05), 6)
            longitude = round(area.longitude + _FAKE.pyfloat(min_value=-0.05, max_value=0.05), 6)
        postal_code: str | None = None
        if area.postal_range is not None:
            width = 5 if country == "US" else 4
            postal_code = f"{_FAKE.random_int(*area.postal_range):0{width}d}"
        elif area.postal_template is not None:
            postal_code = _FAKE.bothify(area.postal_template, letters="ABCEGHJKLMNPRSTVWXYZ").upper()
    return Place(latitude, longitude, postal_code)


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

    @property
    def required_flags(self) -> int:
        return (_SMS if self.sms else 0) | (_MMS if self.mms else 0) | (_VOICE if self.voice else 0)


class CountryIndex:
    """One country's numbers: in inventory order, by digits, and by digits reversed."""

    def __init__(self, numbers: list[InventoryNumber]) -> None:
        self.in_order = numbers
        by_digits = sorted(numbers, key=lambda n: n.national)
        self.digits = [n.national for n in by_digits]
        self.by_digits = by_digits
        by_suffix = sorted(numbers, key=lambda n: n.national[::-1])
        self.suffixes = [n.national[::-1] for n in by_suffix]
        self.by_suffix = by_suffix
        # By last digit, then by digits: a query with both a beginning and an end reads only numbers with both.
        self.by_last_digit: dict[str, tuple[list[str], list[InventoryNumber]]] = {}
        for number in by_digits:
            bucket = self.by_last_digit.setdefault(number.national[-1], ([], []))
            bucket[0].append(number.national)
            bucket[1].append(number)

    @staticmethod
    def _with_prefix(digits: list[str], numbers: list[InventoryNumber], prefix: str) -> Iterator[InventoryNumber]:
        for position in range(bisect.bisect_left(digits, prefix), len(digits)):
            if not digits[position].startswith(prefix):
                return
            yield numbers[position]

    def candidates(self, query: SearchQuery) -> Iterator[InventoryNumber]:
        """Numbers that may match, from the narrowest index the query allows."""
        if query.first_part and query.last_part:
            digits, numbers = self.by_last_digit.get(query.last_part[-1], ([], []))
            yield from self._with_prefix(digits, numbers, query.first_part)
        elif query.first_part:
            yield from self._with_prefix(self.digits, self.by_digits, query.first_part)
        elif query.last_part:
            yield from self._with_prefix(self.suffixes, self.by_suffix, query.last_part[::-1])
        else:
            yield from self.in_order


KEPT_QUERIES = 512  # searches whose first matches are kept
KEPT_MATCHES = 4 * SEARCH_LIMIT


class Inventory:
    def __init__(self, numbers: Iterable[InventoryNumber]) -> None:
        self.by_number: dict[str, InventoryNumber] = {}
        by_country: dict[str, list[InventoryNumber]] = {}
        for number in numbers:
            self.by_number[number.phone_number] = number
            by_country.setdefault(number.country, []).append(number)
        self.by_country = by_country
        self._indexes = {country: CountryIndex(numbers) for country, numbers in by_country.items()}
        self._kinds = {(n.country, n.number_type) for n in self.by_number.values()}
        self._kept: dict[SearchQuery, tuple[list[InventoryNumber], bool]] = {}

    def __len__(self) -> int:
        return len(self.by_number)

    @property
    def countries(self) -> list[str]:
        return list(self.by_country)

    def has(self, country: str, number_type: str) -> bool:
        """Whether the inventory was stocked with numbers of this country and type (sold ones included)."""
        return (country, number_type) in self._kinds

    def counts(self) -> dict[str, dict[str, int]]:
        """How many numbers of each country and type the inventory was stocked with."""
        table: dict[str, dict[str, int]] = {}
        for number in self.by_number.values():
            row = table.setdefault(number.country, {})
            row[number.number_type] = row.get(number.number_type, 0) + 1
        return table

    def get(self, phone_number: str) -> InventoryNumber | None:
        return self.by_number.get(phone_number)

    def search(
        self, query: SearchQuery, is_available: Callable[[str], bool], limit: int = SEARCH_LIMIT
    ) -> list[InventoryNumber]:
        """The first `limit` available numbers that match, in the index's order."""
        if limit == SEARCH_LIMIT:
            # The inventory never changes: the first matches of a query are kept, and only their availability is
            # read again. Where too many of them were sold since, the whole search runs.
            matches, complete = self._first_matches(query)
            found = []
            for number in matches:
                if is_available(number.phone_number):
                    found.append(number)
                    if len(found) == limit:
                        return found
            if complete:
                return found
        return self._search(query, is_available, limit)

    def _first_matches(self, query: SearchQuery) -> tuple[list[InventoryNumber], bool]:
        known = self._kept.get(query)
        if known is None:
            matches = self._search(query, lambda _: True, KEPT_MATCHES)
            known = (matches, len(matches) < KEPT_MATCHES)
            if len(self._kept) >= KEPT_QUERIES:
                del self._kept[next(iter(self._kept))]
            self._kept[query] = known
        return known

    def _search(self, query: SearchQuery, is_available: Callable[[str], bool], limit: int) -> list[InventoryNumber]:
        index = self._indexes.get(query.country)
        if index is None:
            return []
        # The whole match, inlined: this loop is the hot path of every search.
        types, first, last, anywhere = query.number_types, query.first_part, query.last_part, query.anywhere
        required = query.required_flags
        found: list[InventoryNumber] = []
        for number in index.candidates(query):
            national = number.national
            if (
                number.number_type in types
                and number.flags & required == required
                and (not last or national.endswith(last))
                and (not anywhere or anywhere in national)
                and (not first or national.startswith(first))
                and is_available(number.phone_number)
            ):
                found.append(number)
                if len(found) == limit:
                    break
        return found

    def draw(
        self, country: str, number_type: str, count: int, is_available: Callable[[str], bool]
    ) -> list[InventoryNumber]:
        """The first `count` available numbers of a kind, in inventory order (deterministic)."""
        query = SearchQuery(country, frozenset({number_type}))
        return self.search(query, is_available, limit=count)


def _is_plausible_nanp(national: str) -> bool:
    # Exchanges start 2-9; N11 service codes and the fictional 555 exchange are never sold.
    exchange = national[3:6]
    return exchange[0] not in "01" and exchange[1:] != "11" and exchange != "555"


class _BlockChecker:
    """Whether a block of 1,000 numbers is valid for a country and a type (phonenumbers decides, once per block)."""

    def __init__(self, country: str, number_type: str) -> None:
        self.country = country
        self.calling_code = phonenumbers.country_code_for_region(country)
        self.accepted = _TYPE_CHECK[number_type]
        self.known: dict[str, bool] = {}

    def valid(self, block: str) -> bool:
        verdict = self.known.get(block)
        if verdict is None:
            verdict = all(self._valid_number(block + ends) for ends in ("0" * BLOCK_DIGITS, "9" * BLOCK_DIGITS))
            self.known[block] = verdict
        return verdict

    def _valid_number(self, national: str) -> bool:
        parsed = phonenumbers.parse(f"+{self.calling_code}{national}")
        return (
            phonenumbers.is_valid_number_for_region(parsed, self.country)
            and phonenumbers.number_type(parsed) in self.accepted
        )


def _generate_numbers(
    fake: Faker, seed: int, country: str, number_type: str, spec: NumberRange, count: int, taken: set[str]
) -> Iterator[InventoryNumber]:
    fake.seed_instance(_stream_seed(seed, country, number_type))
    rnd = fake.random  # Faker's seeded source drives every draw
    checker = _BlockChecker(country, number_type)
    calling_code = checker.calling_code
    nanp = calling_code == 1
    # A block gives a few numbers (more in a large inventory), as carriers hand out ranges.
    per_block = max(1, min(20, count // 200))
    made = attempts = 0
    while made < count:
        attempts += 1
        if attempts > count * 50 + 1000:
            raise RuntimeError(f"cannot draw {count} {number_type} numbers for {country}: its ranges are too small")
        area: Area = rnd.choice(spec.areas)
        free_digits = spec.national_length - len(area.prefix) - BLOCK_DIGITS
        block = area.prefix + (f"{rnd.randrange(10**free_digits):0{free_digits}d}" if free_digits > 0 else "")
        if nanp and not _is_plausible_nanp(block + "0" * BLOCK_DIGITS):
            continue
        if not checker.valid(block):
            continue
        for _ in range(min(per_block, count - made)):
            national = block + f"{rnd.randrange(10**BLOCK_DIGITS):0{BLOCK_DIGITS}d}"
            e164 = f"+{calling_code}{national}"
            if e164 in taken:
                continue
            taken.add(e164)
            made += 1
            sms = rnd.random() < spec.sms
            mms = sms and rnd.random() < spec.mms
            voice = rnd.random() < spec.voice or not sms  # every number can do something
            beta = rnd.random() < 0.02
            flags = (_SMS if sms else 0) | (_MMS if mms else 0) | (_VOICE if voice else 0) | (_BETA if beta else 0)
            yield InventoryNumber(e164, national, country, number_type, flags, area, spec, seed)


@functools.lru_cache(maxsize=8)
def build_inventory(seed: int, numbers_per_type: int = DEFAULT_NUMBERS_PER_TYPE) -> Inventory:
    """The inventory for a seed: `numbers_per_type` numbers for each (country, type)."""
    taken: set[str] = set()
    numbers: list[InventoryNumber] = []
    fake = Faker("en_US")
    for (country, number_type), spec in NUMBER_RANGES.items():
        numbers.extend(_generate_numbers(fake, seed, country, number_type, spec, numbers_per_type, taken))
    return Inventory(numbers)
