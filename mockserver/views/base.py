"""What a version's view is, and the answers every version gives alike (number pools, search).

A view turns the domain's answer to an operation into one version's wire shape. Each rendering method is
registered by operationId (`@renders`); the gateway asks `view.render(operation_id, result)`, so an operation a
view cannot render is a missing registration, which a test of the registries catches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import orjson

from ..contract.versions import ApiVersion
from ..domain.inventory import InventoryNumber
from ..domain.models import ActiveNumber, NumberPool, NumberPoolList, SearchResult

Renderer = Callable[[Any, Any], Any]


def renders(operation_id: str) -> Callable[[Renderer], Renderer]:
    """Marks a view's method as the one that renders `operation_id`'s answer."""

    def mark(method: Renderer) -> Renderer:
        method.renders = operation_id  # type: ignore[attr-defined]
        return method

    return mark


class View:
    """One version's wire shapes; `renderers` maps each operationId to the method that renders its answer."""

    renderers: ClassVar[dict[str, Renderer]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Renderer] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if callable(value) and hasattr(value, "renders"):
                    found[value.renders] = value
        cls.renderers = found

    def __init__(self, version: ApiVersion) -> None:
        self.api_version = version
        self.version = version.name

    def render(self, operation_id: str, result: Any) -> Any:
        """The wire shape of the domain's answer to `operation_id`."""
        return self.renderers[operation_id](self, result)

    def active_number(self, number: ActiveNumber) -> dict[str, Any]:
        """One active number's record at this version (also what the admin API shows of a number)."""
        raise NotImplementedError


def capabilities(number: ActiveNumber) -> dict[str, bool]:
    return {"voice": number.voice, "sms": number.sms, "mms": number.mms, "fax": number.fax}


def coordinate(value: float | None) -> str | None:
    """The vendor sends coordinates as strings with six decimals ("35.241800")."""
    return None if value is None else f"{value:.6f}"


def available_number(number: InventoryNumber) -> dict[str, Any]:
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

    def get(self, number: InventoryNumber) -> orjson.Fragment:
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


class SameAtEveryVersion(View):
    """The answers every version gives alike: number pools and search."""

    @renders("listNumberPools")
    def number_pools(self, result: NumberPoolList) -> Any:
        return pools_answer(result)

    @renders("searchAvailableNumbers")
    def search(self, result: SearchResult) -> Any:
        return search_answer(result)


def rendered(view: View, numbers: Sequence[ActiveNumber]) -> list[orjson.Fragment]:
    """Each number's record at the view's version, serialized once (numbers do not change once added)."""
    version = view.version
    found = [number.rendered.get(version) for number in numbers]  # a page's worth each request: kept lean
    if None in found:
        return [fragment or _render(view, number) for fragment, number in zip(found, numbers, strict=True)]
    return found  # type: ignore[return-value]  # no None in it


def _render(view: View, number: ActiveNumber) -> orjson.Fragment:
    fragment = number.rendered[view.version] = orjson.Fragment(orjson.dumps(view.active_number(number)))
    return fragment
