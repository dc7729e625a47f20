"""What every version's view renders, and the parts both versions share (pools, search)."""

from __future__ import annotations

import threading
from typing import Any, Protocol

import orjson

from ..inventory import CatalogNumber
from ..models import ActiveNumber, ActiveNumberPage, NumberPool, NumberPoolList, PurchaseReceipt, SearchResult


class View(Protocol):
    version: str

    def number_pools(self, result: NumberPoolList) -> Any: ...
    def search(self, result: SearchResult) -> Any: ...
    def purchase(self, receipt: PurchaseReceipt) -> Any: ...
    def active_numbers(self, page: ActiveNumberPage) -> Any: ...
    def active_number(self, number: ActiveNumber) -> dict[str, Any]: ...


def capabilities(number: ActiveNumber) -> dict[str, bool]:
    return {"voice": number.voice, "sms": number.sms, "mms": number.mms, "fax": number.fax}


def coordinate(value: float | None) -> str | None:
    """The vendor sends coordinates as strings with six decimals ("35.241800")."""
    return None if value is None else f"{value:.6f}"


def available_number(number: CatalogNumber) -> dict[str, Any]:
    """An AvailableNumber (the same at every version, D8)."""
    area, place = number.area, number.place
    return {
        "phoneNumber": number.phone_number,
        "friendlyName": number.friendly_name,
        "isoCountry": number.country,
        "lata": area.lata,
        "locality": area.locality,
        "rateCenter": area.rate_center,
        "latitude": coordinate(place.latitude),
        "longitude": coordinate(place.longitude),
        "region": area.region,
        "postalCode": place.postal_code,
        "addressRequirements": number.address_requirements,
        "beta": number.beta,
        "capabilities": {"MMS": number.mms, "SMS": number.sms, "voice": number.voice},
        "price": {"number_type": number.number_type, "price": number.spec.price, "price_unit": "USD"},
    }


class _FragmentCache:
    """Serialized available numbers: shown often, never changed; bounded, since inventories can hold millions."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._fragments: dict[tuple[int, str], orjson.Fragment] = {}
        self._lock = threading.Lock()

    def get(self, number: CatalogNumber) -> orjson.Fragment:
        key = (number.seed, number.phone_number)
        fragment = self._fragments.get(key)
        if fragment is None:
            fragment = orjson.Fragment(orjson.dumps(available_number(number)))
            with self._lock:
                if len(self._fragments) >= self.capacity:
                    self._fragments.clear()
                self._fragments[key] = fragment
        return fragment


AVAILABLE_FRAGMENTS = _FragmentCache()


def search_answer(result: SearchResult) -> dict[str, Any]:
    return {
        "fingerprintId": result.fingerprint_id,
        "numbers": [AVAILABLE_FRAGMENTS.get(number) for number in result.numbers],
    }


def number_pool(pool: NumberPool, friendly_names: dict[str, str]) -> dict[str, Any]:
    """A NumberPool; forwardingNumber and whisperMessage are left out when the pool has none (D26)."""
    record: dict[str, Any] = {
        "id": pool.id,
        "name": pool.name,
        "locationId": pool.location_id,
        "numbers": [{"phoneNumber": n, "friendlyName": friendly_names.get(n, n)} for n in pool.numbers],
    }
    if pool.forwarding_number is not None:
        record["forwardingNumber"] = pool.forwarding_number
    record["whisper"] = pool.whisper
    if pool.whisper_message is not None:
        record["whisperMessage"] = pool.whisper_message
    record["callRecording"] = pool.call_recording
    record["isActive"] = pool.is_active
    record["inboundCallService"] = pool.inbound_call_service
    return record


def pools_answer(result: NumberPoolList) -> dict[str, Any]:
    """The vendor's number-pools answer (D3), the same at every version."""
    pools = [number_pool(pool, result.friendly_names) for pool in result.pools]
    return {"success": True, "data": pools, "total": len(pools)}


class SameAtEveryVersion:
    """The answers every version gives alike: number pools and search."""

    def number_pools(self, result: NumberPoolList) -> Any:
        return pools_answer(result)

    def search(self, result: SearchResult) -> Any:
        return search_answer(result)


def rendered(view: View, number: ActiveNumber) -> orjson.Fragment:
    """A number's record at a version, serialized once (numbers do not change once added)."""
    fragment = number.rendered.get(view.version)
    if fragment is None:
        fragment = number.rendered[view.version] = orjson.Fragment(orjson.dumps(view.active_number(number)))
    return fragment
