"""Where the sandbox's numbers come from: number ranges and places per country and type.

Each area is a real numbering-plan prefix with the place it serves, so that a
generated number, its locality, region, coordinates, LATA, rate center and
postal code agree with each other. `phonenumbers` has the last word on every
generated number (see `inventory.py`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    prefix: str  # leading digits of the national number
    locality: str | None
    region: str | None
    latitude: float | None
    longitude: float | None
    lata: str | None = None
    rate_center: str | None = None
    postal_range: tuple[int, int] | None = None  # numeric postal codes (US, AU)
    postal_template: str | None = None  # Faker bothify template (CA, GB)


@dataclass(frozen=True)
class NumberRange:
    """What one (country, number type) pair offers."""

    national_length: int
    areas: tuple[Area, ...]
    address_requirements: str
    price: float
    bundle_required: bool  # regulatory bundle (bundleSid) needed unless skipLocationKYC
    sms: float  # probability that a number has the capability
    mms: float
    voice: float = 0.98
    geographic: bool = True


def _us(
    npa: str, locality: str, region: str, lat: float, lng: float, lata: str, rate_center: str, zips: tuple[int, int]
) -> Area:
    return Area(npa, locality, region, lat, lng, lata, rate_center, postal_range=zips)


_US_AREAS = (
    _us("212", "New York", "NY", 40.7128, -74.0060, "132", "NWYRCYZN01", (10001, 10282)),
    _us("415", "San Francisco", "CA", 37.7749, -122.4194, "722", "SNFC CNTRL", (94102, 94188)),
    _us("213", "Los Angeles", "CA", 34.0522, -118.2437, "730", "LOS ANGELES", (90001, 90089)),
    _us("312", "Chicago", "IL", 41.8781, -87.6298, "358", "CHICAGO", (60601, 60661)),
    _us("617", "Boston", "MA", 42.3601, -71.0589, "128", "BOSTON", (2108, 2137)),
    _us("305", "Miami", "FL", 25.7617, -80.1918, "460", "MIAMI", (33101, 33199)),
    _us("404", "Atlanta", "GA", 33.7490, -84.3880, "438", "ATLANTA", (30301, 30399)),
    _us("206", "Seattle", "WA", 47.6062, -122.3321, "674", "SEATTLE", (98101, 98199)),
    _us("512", "Austin", "TX", 30.2672, -97.7431, "558", "AUSTIN", (78701, 78799)),
    _us("720", "Denver", "CO", 39.7392, -104.9903, "656", "DENVER", (80201, 80299)),
    _us("602", "Phoenix", "AZ", 33.4484, -112.0740, "666", "PHOENIX", (85001, 85099)),
    _us("503", "Portland", "OR", 45.5152, -122.6784, "672", "PORTLAND", (97201, 97299)),
    _us("615", "Nashville", "TN", 36.1627, -86.7816, "468", "NASHVILLE", (37201, 37250)),
    _us("702", "Las Vegas", "NV", 36.1699, -115.1398, "721", "LAS VEGAS", (89101, 89199)),
    _us("870", "Jonesboro", "AR", 35.8423, -90.7043, "528", "JONESBORO", (72401, 72404)),
)


def _ca(npa: str, locality: str, region: str, lat: float, lng: float, fsa_letter: str) -> Area:
    return Area(npa, locality, region, lat, lng, None, locality.upper(), postal_template=fsa_letter + "#? #?#")


_CA_AREAS = (
    _ca("416", "Toronto", "ON", 43.6532, -79.3832, "M"),
    _ca("604", "Vancouver", "BC", 49.2827, -123.1207, "V"),
    _ca("514", "Montreal", "QC", 45.5017, -73.5673, "H"),
    _ca("403", "Calgary", "AB", 51.0447, -114.0719, "T"),
    _ca("613", "Ottawa", "ON", 45.4215, -75.6972, "K"),
    _ca("780", "Edmonton", "AB", 53.5461, -113.4938, "T"),
    _ca("204", "Winnipeg", "MB", 49.8951, -97.1384, "R"),
    _ca("902", "Halifax", "NS", 44.6488, -63.5752, "B"),
)


def _gb(prefix: str, locality: str, region: str, lat: float, lng: float, postcode_area: str) -> Area:
    return Area(prefix, locality, region, lat, lng, None, None, postal_template=postcode_area + " #??")


_GB_AREAS = (
    _gb("20", "London", "England", 51.5074, -0.1278, "EC1"),
    _gb("121", "Birmingham", "England", 52.4862, -1.8904, "B1"),
    _gb("161", "Manchester", "England", 53.4808, -2.2426, "M1"),
    _gb("113", "Leeds", "England", 53.8008, -1.5491, "LS1"),
    _gb("117", "Bristol", "England", 51.4545, -2.5879, "BS1"),
    _gb("151", "Liverpool", "England", 53.4084, -2.9916, "L1"),
    _gb("131", "Edinburgh", "Scotland", 55.9533, -3.1883, "EH1"),
    _gb("141", "Glasgow", "Scotland", 55.8642, -4.2518, "G1"),
    _gb("29", "Cardiff", "Wales", 51.4816, -3.1791, "CF10"),
    _gb("28", "Belfast", "Northern Ireland", 54.5973, -5.9301, "BT1"),
)


def _au(prefix: str, locality: str, region: str, lat: float, lng: float, postcodes: tuple[int, int]) -> Area:
    return Area(prefix, locality, region, lat, lng, None, locality.upper(), postal_range=postcodes)


_AU_AREAS = (
    _au("29", "Sydney", "NSW", -33.8688, 151.2093, (2000, 2234)),
    _au("26", "Canberra", "ACT", -35.2809, 149.1300, (2600, 2620)),
    _au("39", "Melbourne", "VIC", -37.8136, 144.9631, (3000, 3207)),
    _au("362", "Hobart", "TAS", -42.8821, 147.3272, (7000, 7099)),
    _au("73", "Brisbane", "QLD", -27.4698, 153.0251, (4000, 4179)),
    _au("88", "Adelaide", "SA", -34.9285, 138.6007, (5000, 5199)),
    _au("89", "Perth", "WA", -31.9505, 115.8605, (6000, 6199)),
)


def _non_geographic(*prefixes: str) -> tuple[Area, ...]:
    return tuple(Area(prefix, None, None, None, None) for prefix in prefixes)


_NANP_TOLL_FREE = _non_geographic("800", "833", "844", "855", "866", "877", "888")

# (country, number type) -> what the inventory offers. Prices are Twilio-like monthly USD.
NUMBER_RANGES: dict[tuple[str, str], NumberRange] = {
    ("US", "local"): NumberRange(10, _US_AREAS, "none", 1.15, False, sms=1.0, mms=0.85),
    ("US", "mobile"): NumberRange(10, _US_AREAS, "none", 1.15, False, sms=1.0, mms=0.9),
    ("US", "tollFree"): NumberRange(10, _NANP_TOLL_FREE, "none", 2.15, False, sms=0.9, mms=0.5, geographic=False),
    ("CA", "local"): NumberRange(10, _CA_AREAS, "none", 1.15, False, sms=1.0, mms=0.8),
    ("CA", "mobile"): NumberRange(10, _CA_AREAS, "none", 1.15, False, sms=1.0, mms=0.85),
    ("CA", "tollFree"): NumberRange(10, _NANP_TOLL_FREE, "none", 2.15, False, sms=0.85, mms=0.4, geographic=False),
    ("GB", "local"): NumberRange(10, _GB_AREAS, "local", 1.15, True, sms=0.0, mms=0.0),
    ("GB", "mobile"): NumberRange(
        10, _non_geographic("74", "75", "77", "78", "79"), "any", 1.15, True, sms=1.0, mms=0.0, geographic=False
    ),
    ("GB", "tollFree"): NumberRange(
        10, _non_geographic("800", "808"), "any", 2.00, True, sms=0.0, mms=0.0, geographic=False
    ),
    ("AU", "local"): NumberRange(9, _AU_AREAS, "local", 3.00, True, sms=0.0, mms=0.0),
    ("AU", "mobile"): NumberRange(9, _non_geographic("4"), "any", 6.50, True, sms=1.0, mms=0.5, geographic=False),
    ("AU", "tollFree"): NumberRange(
        10, _non_geographic("1800"), "any", 16.00, True, sms=0.0, mms=0.0, geographic=False
    ),
}

INVENTORY_COUNTRIES: tuple[str, ...] = tuple(dict.fromkeys(country for country, _ in NUMBER_RANGES))
