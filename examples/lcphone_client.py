"""A small, typed client of the LC Phone API v3: the kind of code lcphone exists to test.

It is an example of a user's client, not part of lcphone: see
`test_lcphone_client.py` beside it for its tests, written with lcphone's fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"


class LcPhoneError(Exception):
    """The API refused a request; `messages` is what it said, one string per problem ("; " separates them)."""

    def __init__(self, status: int, messages: list[str]) -> None:
        super().__init__(f"{status}: {'; '.join(messages)}")
        self.status = status
        self.messages = messages


@dataclass(frozen=True)
class AvailableNumber:
    phone_number: str
    friendly_name: str
    country: str
    number_type: str
    locality: str | None
    region: str | None
    sms: bool
    mms: bool
    voice: bool
    monthly_price: float
    address_requirements: str


@dataclass(frozen=True)
class SearchResult:
    numbers: list[AvailableNumber]
    fingerprint_id: str


@dataclass(frozen=True)
class Purchase:
    number: str
    location_id: str
    account_id: str
    under_lc_account: bool


@dataclass(frozen=True)
class ActiveNumber:
    phone_number: str
    friendly_name: str
    type: str
    is_default: bool
    date_added: str


@dataclass(frozen=True)
class ActiveNumbersPage:
    numbers: list[ActiveNumber]
    total: int
    page: int
    page_size: int
    is_under_lc: bool
    account_status: str


@dataclass(frozen=True)
class NumberPool:
    id: str
    name: str
    numbers: list[str]


@dataclass(frozen=True)
class Payment:
    payment_intent_id: str
    stripe_account_id: str
    payment_method_id: str


def _flag(value: bool) -> str:
    return "true" if value else "false"


class PhoneClient:
    def __init__(self, http: httpx.Client, location_id: str) -> None:
        """`http` carries the base URL and the `Authorization` header."""
        self.http = http
        self.location_id = location_id

    @classmethod
    def connect(cls, token: str, location_id: str, base_url: str = DEFAULT_BASE_URL, **kwargs) -> PhoneClient:
        http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        return cls(http, location_id)

    def _call(self, method: str, path: str, *, v3: bool = False, **kwargs) -> dict:
        headers = {"Version": "v3"} if v3 else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.is_error:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise LcPhoneError(response.status_code, str(message).split("; "))
        return response.json()

    def number_pools(self) -> list[NumberPool]:
        body = self._call("GET", "/phone-system/number-pools", params={"locationId": self.location_id})
        return [NumberPool(p["id"], p["name"], [n["phoneNumber"] for n in p["numbers"]]) for p in body["data"]]

    def search(
        self,
        country: str,
        types: Sequence[str] = ("local",),
        *,
        starts_with: str = "",
        ends_with: str = "",
        contains: str = "",
        sms: bool = False,
        mms: bool = False,
        voice: bool = False,
    ) -> SearchResult:
        params = {
            "firstPart": starts_with,
            "lastPart": ends_with,
            "anywhere": contains,
            "numberTypes": ",".join(types),
            "smsEnabled": _flag(sms),
            "mmsEnabled": _flag(mms),
            "voiceEnabled": _flag(voice),
            "countryCode": country,
        }
        body = self._call("GET", f"/phone-system/numbers/location/{self.location_id}/available", params=params)
        numbers = [
            AvailableNumber(
                phone_number=n["phoneNumber"],
                friendly_name=n["friendlyName"],
                country=n["isoCountry"],
                number_type=n["price"]["number_type"],
                locality=n["locality"],
                region=n["region"],
                sms=n["capabilities"]["SMS"],
                mms=n["capabilities"]["MMS"],
                voice=n["capabilities"]["voice"],
                monthly_price=n["price"]["price"],
                address_requirements=n["addressRequirements"],
            )
            for n in body["numbers"]
        ]
        return SearchResult(numbers, body["fingerprintId"])

    def purchase(
        self,
        number: AvailableNumber,
        fingerprint_id: str,
        payment: Payment,
        *,
        address_sid: str = "",
        bundle_sid: str = "",
        skip_location_kyc: bool = False,
    ) -> Purchase:
        body = {
            "phoneNumber": number.phone_number,
            "countryCode": number.country,
            "numberType": number.number_type,
            "addressSid": address_sid,
            "bundleSid": bundle_sid,
            "skipLocationKYC": skip_location_kyc,
            "paymentIntentId": payment.payment_intent_id,
            "stripeAccountId": payment.stripe_account_id,
            "paymentMethodId": payment.payment_method_id,
            "locality": number.locality or "",
            "region": number.region or "",
            "fingerprintId": fingerprint_id,
        }
        data = self._call("POST", f"/phone-system/numbers/location/{self.location_id}/purchase", v3=True, json=body)[
            "data"
        ]
        return Purchase(data["number"], data["locationId"], data["id"], data["underLcAccount"])

    def active_numbers(
        self,
        page: int = 0,
        page_size: int = 50,
        *,
        search: str = "",
        include_pooled: bool = False,
    ) -> ActiveNumbersPage:
        params = {"page": page, "pageSize": page_size, "skipNumberPool": _flag(not include_pooled)}
        if search:
            params["searchFilter"] = search
        data = self._call("GET", f"/phone-system/numbers/location/{self.location_id}", v3=True, params=params)["data"]
        numbers = [
            ActiveNumber(n["phoneNumber"], n["friendlyName"], n["type"], n["isDefaultNumber"], n["dateAdded"])
            for n in data["numbers"]
        ]
        return ActiveNumbersPage(
            numbers, data["total"], data["page"], data["pageSize"], data["isUnderLc"], data["accountStatus"]
        )

    def iter_active_numbers(self, page_size: int = 100, *, include_pooled: bool = False) -> Iterator[ActiveNumber]:
        page = 0
        while True:
            chunk = self.active_numbers(page, page_size, include_pooled=include_pooled)
            yield from chunk.numbers
            if (page + 1) * page_size >= chunk.total or not chunk.numbers:
                return
            page += 1
