"""The API's operations as handlers, each registered by its operationId.

A handler only turns the request's typed values (checked against the contract by then) into one call of the
`PhoneSystem`, and returns the domain's answer; the gateway renders it with the version's view and answers
the contract's success status. The operation registry (the contracts) says which handlers must exist; a test
of the registries fails when one is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contract.requests import CheckedRequest
from ..domain.inventory import SearchQuery
from ..domain.models import NUMBER_TYPES, Location
from ..domain.phone_system import PhoneSystem, PurchaseOrder, request_digest

Handler = Callable[[PhoneSystem, Location, CheckedRequest], Any]
HANDLERS: dict[str, Handler] = {}


def handles(operation_id: str) -> Callable[[Handler], Handler]:
    """Registers the decorated function as the handler of `operation_id`."""

    def register(handler: Handler) -> Handler:
        HANDLERS[operation_id] = handler
        return handler

    return register


@handles("listNumberPools")
def list_number_pools(system: PhoneSystem, location: Location, request: CheckedRequest) -> Any:
    return system.number_pools(location)


def _number_types(value: list[str] | str | None) -> frozenset[str]:
    """The types asked for: a list (v3), a comma-separated string (2021-07-28), or every type when left out."""
    if value is None:
        return frozenset(NUMBER_TYPES)
    return frozenset(value.split(",") if isinstance(value, str) else value)


@handles("searchAvailableNumbers")
def search_available_numbers(system: PhoneSystem, location: Location, request: CheckedRequest) -> Any:
    p = request.params
    query = SearchQuery(
        country=p["countryCode"],
        number_types=_number_types(p.get("numberTypes")),
        first_part=p.get("firstPart", ""),
        last_part=p.get("lastPart", ""),
        anywhere=p.get("anywhere", ""),
        sms=p.get("smsEnabled", False),
        mms=p.get("mmsEnabled", False),
        voice=p.get("voiceEnabled", False),
    )
    return system.search_available(location, query)


@handles("purchaseNumber")
def purchase_number(system: PhoneSystem, location: Location, request: CheckedRequest) -> Any:
    body = request.body
    order = PurchaseOrder(
        phone_number=body["phoneNumber"],
        digest=request_digest(body),
        country_code=body.get("countryCode"),
        number_type=body.get("numberType"),
        address_sid=body.get("addressSid") or "",
        bundle_sid=body.get("bundleSid") or "",
        skip_location_kyc=bool(body.get("skipLocationKYC")),
        fingerprint_id=body.get("fingerprintId"),
    )
    return system.purchase(location, order)


@handles("listActiveNumbers")
def list_active_numbers(system: PhoneSystem, location: Location, request: CheckedRequest) -> Any:
    p = request.params
    return system.active_numbers(
        location,
        page=p["page"],  # as the client sent it (a number), echoed as such
        page_size=int(p["pageSize"]),
        search_filter=p.get("searchFilter", ""),
        skip_number_pool=p["skipNumberPool"],
        include_rcs_sender_ids=p.get("includeRcsSenderIds", False),
    )
