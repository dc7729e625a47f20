"""The rules of the LC Phone service, as plain Python: auth, pools, search, purchase, active numbers.

Routes call these methods with typed values and render what they return; every
refusal is an `ApiError` in the vendor's shape. All state goes through the store.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import phonenumbers

from . import errors
from .ids import IdFactory
from .inventory import Catalog, SearchQuery
from .models import ACTIVE_TYPE_FOR, ALL_SCOPES, ActiveNumber, Location, NumberPool, PurchaseRecord, Token
from .scenario import Scenario, ScenarioError
from .store import MemoryStore, PersistentStore, Store

_ADDRESS_SID = re.compile(r"^AD[0-9a-f]{32}$")
_BUNDLE_SID = re.compile(r"^BU[0-9a-f]{32}$")

PURCHASE_MESSAGE = "Number purchase successful"
ACTIVE_NUMBERS_MESSAGE = "Phone numbers fetched successfully"


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _first_unless_told(told: bool | None, existing: list[ActiveNumber]) -> bool:
    """A location's first number is its default number, unless the scenario says otherwise."""
    return (not existing) if told is None else told


def _request_digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class PhoneSystem:
    def __init__(self, catalog: Catalog, seed: int, scenario: Scenario, store: Store | None = None,
                 *, double_sell: bool = False) -> None:
        self.catalog = catalog
        self.double_sell = double_sell  # a deliberate bug (drift mode), for showing that the suites catch it
        self.ids = IdFactory(seed)
        self.store: Store = store if store is not None else MemoryStore()
        self.scenario = scenario

    # -- lifecycle ---------------------------------------------------------------

    def reset(self, scenario: Scenario | None = None) -> None:
        """Back to the scenario's starting state (the same state, byte for byte, every time)."""
        previous = self.scenario
        scenario = scenario or previous
        try:
            self._load(scenario)
        except errors.ApiError as error:
            # A scenario whose content cannot be honoured (a pool bigger than its numbers...) is refused whole.
            if scenario is not previous:
                self._load(previous)
            raise ScenarioError([f"scenario {scenario.name!r}: {'; '.join(error.problems)}"]) from None
        self.scenario = scenario

    def start(self) -> None:
        """The starting state: the scenario's, unless a persistent store already holds a sandbox's state."""
        store = self.store
        with store.transaction():
            stored = store.get_meta("scenario") if isinstance(store, PersistentStore) else None
            if stored is None:
                self.reset()
            else:
                self.scenario = Scenario.from_document(orjson.loads(stored))

    def _load(self, scenario: Scenario) -> None:
        store = self.store
        with store.transaction():
            store.clear()
            self.scenario = scenario  # the clock of the dates below is the scenario's
            for entry in scenario.locations:
                self.load_location(entry)
            for entry in scenario.agency_tokens:
                self._put_token(entry, location_id=None)
            if isinstance(store, PersistentStore):
                store.set_meta("scenario", orjson.dumps(scenario.document).decode())

    def load_location(self, entry: dict[str, Any]) -> None:
        location = self.create_location(
            entry["id"],
            name=entry.get("name"),
            is_under_lc=entry.get("isUnderLc", True),
            account_status=entry.get("accountStatus", "active"),
            phone_system_connected=entry.get("phoneSystemConnected", True),
            account_record_id=entry.get("accountRecordId"),
            rcs_sender_ids=entry.get("rcsSenderIds", []),
        )
        for token in entry.get("tokens", []):
            self._put_token(token, location.id)
        for number in entry.get("numbers", []):
            if "draw" in number:
                draw = number["draw"]
                self.add_numbers(location.id, draw["countryCode"], draw["numberType"], draw["count"])
            else:
                self.add_owned_number(location.id, number)
        for pool in entry.get("pools", []):
            self.add_pool(location.id, pool)

    def _put_token(self, entry: dict[str, Any], location_id: str | None) -> Token:
        value = entry.get("value") or self.ids.access_token(self.store.next_sequence("token"))
        token = Token(value, location_id, frozenset(entry.get("scopes", ALL_SCOPES)))
        self.store.put_token(token)
        return token

    # -- seeding (scenarios, admin API, fixtures) --------------------------------

    def create_location(self, location_id: str, *, name: str | None = None, is_under_lc: bool = True,
                        account_status: str = "active", phone_system_connected: bool = True,
                        account_record_id: str | None = None, rcs_sender_ids: list[dict[str, Any]] | None = None) -> Location:
        with self.store.transaction():
            location = Location(
                id=location_id,
                name=name or f"Location {location_id}",
                account_record_id=account_record_id or self.ids.record_id("account", self.store.next_sequence("account")),
                is_under_lc=is_under_lc,
                account_status=account_status,
                phone_system_connected=phone_system_connected,
                rcs_sender_ids=list(rcs_sender_ids or []),
            )
            self.store.put_location(location)
            return location

    def ensure_location(self, location_id: str) -> Location:
        """The location, created with an empty connected phone system when unknown."""
        with self.store.transaction():
            return self.store.get_location(location_id) or self.create_location(location_id)

    def mint_token(self, location_id: str | None, scopes: list[str] | None = None) -> Token:
        with self.store.transaction():
            if location_id is not None:
                self.ensure_location(location_id)
            entry = {"scopes": scopes} if scopes is not None else {}
            return self._put_token(entry, location_id)

    def _next_date(self) -> str:
        minutes = self.store.next_sequence("clock") - 1
        start = datetime.strptime(self.scenario.clock_start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return _timestamp(start + timedelta(minutes=minutes))

    def _new_active_number(self, location_id: str, phone_number: str, friendly_name: str, country: str,
                           number_type: str, **details: Any) -> ActiveNumber:
        store = self.store
        number = ActiveNumber(
            phone_number=phone_number,
            friendly_name=friendly_name,
            sid=self.ids.twilio_sid("PN", "number", store.next_sequence("number")),
            country_code=country,
            type=ACTIVE_TYPE_FOR.get(number_type, number_type),
            date_added=self._next_date(),
            is_default_number=_first_unless_told(details.pop("is_default_number", None), store.active_numbers(location_id)),
            **details,
        )
        store.add_active_number(location_id, number)
        return number

    def add_numbers(self, location_id: str, country: str, number_type: str, count: int) -> list[ActiveNumber]:
        """Gives the location `count` numbers from the inventory (the first available, in catalog order)."""
        with self.store.transaction():
            self.ensure_location(location_id)
            drawn = self.catalog.draw(country, number_type, count, self.is_available)
            if len(drawn) < count:
                raise errors.unprocessable(f"only {len(drawn)} {number_type} numbers are left in {country}")
            return [
                self._new_active_number(location_id, n.phone_number, n.friendly_name, n.country, n.number_type,
                                        voice=n.voice, sms=n.sms, mms=n.mms)
                for n in drawn
            ]

    def add_owned_number(self, location_id: str, entry: dict[str, Any]) -> ActiveNumber:
        """Gives the location a number described in full (ported, hosted, or taken from the inventory)."""
        phone_number = entry["phoneNumber"]
        try:
            parsed = phonenumbers.parse(phone_number)
        except phonenumbers.NumberParseException as error:
            raise errors.unprocessable(f"phoneNumber {phone_number}: {error}") from None
        if not phonenumbers.is_valid_number(parsed):
            raise errors.unprocessable(f"phoneNumber {phone_number} is not a valid phone number")
        with self.store.transaction():
            self.ensure_location(location_id)
            owner = self.store.owner_of(phone_number)
            if owner is not None:
                raise errors.conflict(f"phoneNumber {phone_number} already belongs to location {owner}")
            capabilities = entry.get("capabilities", {})
            return self._new_active_number(
                location_id,
                phone_number,
                phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
                phonenumbers.region_code_for_number(parsed) or "ZZ",
                entry.get("numberType", "local"),
                voice=capabilities.get("voice", True),
                sms=capabilities.get("sms", True),
                mms=capabilities.get("mms", False),
                fax=capabilities.get("fax", False),
                origin=entry.get("origin", "ported"),
                forwarding_number=entry.get("forwardingNumber"),
                linked_user=entry.get("linkedUser"),
                inbound_call_service=entry.get("inboundCallService"),
                is_default_number=entry.get("isDefaultNumber"),
            )

    def add_pool(self, location_id: str, entry: dict[str, Any]) -> NumberPool:
        with self.store.transaction():
            self.ensure_location(location_id)
            owned = [n.phone_number for n in self.store.active_numbers(location_id)]
            pooled = {n for pool in self.store.pools(location_id) for n in pool.numbers}
            wanted = entry.get("numbers", 0)
            if isinstance(wanted, int):
                free = [n for n in owned if n not in pooled]
                if len(free) < wanted:
                    raise errors.unprocessable(f"numbers: location {location_id} has only {len(free)} numbers outside pools")
                members = free[:wanted]
            else:
                strangers = [n for n in wanted if n not in owned]
                if strangers:
                    raise errors.unprocessable(f"numbers: {', '.join(strangers)} are not numbers of location {location_id}")
                members = list(wanted)
            pool = NumberPool(
                id="npool_" + self.ids.hex("pool", self.store.next_sequence("pool"), 20),
                name=entry["name"],
                location_id=location_id,
                numbers=members,
                forwarding_number=entry.get("forwardingNumber"),
                whisper=entry.get("whisper", False),
                whisper_message=entry.get("whisperMessage"),
                call_recording=entry.get("callRecording", False),
                is_active=entry.get("isActive", True),
                inbound_call_service=entry.get("inboundCallService"),
            )
            self.store.put_pool(pool)
            return pool

    # -- auth -------------------------------------------------------------------

    def authenticate(self, token_value: str | None) -> Token:
        token = self.store.get_token(token_value) if token_value else None
        if token is None:
            raise errors.invalid_token()
        return token

    def authorize(self, token: Token, scopes: tuple[str, ...]) -> None:
        for scope in scopes:
            if scope not in token.scopes:
                raise errors.missing_scope(scope)

    def location_for(self, token: Token, location_id: str) -> Location:
        if not token.can_access(location_id):
            raise errors.no_location_access()
        location = self.store.get_location(location_id)
        if location is None:
            # Only an agency token gets this far with a location the service does not know.
            raise errors.not_found(f"Location {location_id} not found")
        return location

    # -- the four operations -------------------------------------------------------

    def is_available(self, phone_number: str) -> bool:
        return self.store.owner_of(phone_number) is None

    @staticmethod
    def _require_phone_system(location: Location) -> None:
        if not location.phone_system_connected:
            raise errors.not_found("Phone system not connected")

    def number_pools(self, location: Location) -> dict[str, Any]:
        with self.store.transaction():
            names = {n.phone_number: n.friendly_name for n in self.store.active_numbers(location.id)}
            pools = [pool.to_api(names) for pool in self.store.pools(location.id)]
        return {"numberPools": pools, "total": len(pools)}

    def search_available(self, location: Location, query: SearchQuery) -> dict[str, Any]:
        self._require_phone_system(location)
        with self.store.transaction():
            found = self.catalog.search(query, self.is_available)
            fingerprint = self.ids.uuid("fingerprint", self.store.next_sequence("fingerprint"))
        return {"numbers": [self.catalog.available_fragment(number) for number in found], "fingerprintId": fingerprint}

    def purchase(self, location: Location, request: dict[str, Any]) -> dict[str, Any]:
        """Buys a number; the answer is the envelope's `data`. Idempotent per fingerprintId."""
        self._require_phone_system(location)
        if location.account_status != "active":
            raise errors.forbidden(f"The phone system account of this location is {location.account_status}: numbers cannot be purchased.")
        phone_number = request["phoneNumber"]
        fingerprint_id = request["fingerprintId"]
        digest = _request_digest(request)
        store = self.store
        with store.transaction():
            previous = store.get_purchase(location.id, fingerprint_id)
            if previous is not None:
                if previous.request_digest != digest:
                    raise errors.conflict(
                        f"fingerprintId {fingerprint_id} was already used for a different purchase request; "
                        "send a new fingerprintId for a new purchase."
                    )
                return previous.response
            if store.owner_of(phone_number) is not None and not self.double_sell:
                raise errors.conflict(f"phoneNumber {phone_number} has already been purchased and is no longer available.")
            number = self.catalog.get(phone_number)
            country = request["countryCode"]
            if number is None or number.country != country:
                raise errors.unprocessable(f"phoneNumber {phone_number} is not an available number in countryCode {country}.")
            if number.number_type != request["numberType"]:
                raise errors.unprocessable(
                    f"numberType: {phone_number} is a {number.number_type} number, not {request['numberType']}."
                )
            if number.address_requirements != "none" and not _ADDRESS_SID.match(request["addressSid"]):
                raise errors.unprocessable(
                    f"addressSid: {phone_number} needs an address (addressRequirements: {number.address_requirements}); "
                    "send the sid of a Twilio address, AD followed by 32 hex digits."
                )
            if number.bundle_required and not request["skipLocationKYC"] and not _BUNDLE_SID.match(request["bundleSid"]):
                raise errors.unprocessable(
                    f"bundleSid: numbers of {country} need a regulatory bundle (BU followed by 32 hex digits), "
                    "unless skipLocationKYC is true."
                )
            self._new_active_number(
                location.id, phone_number, number.friendly_name, number.country, number.number_type,
                voice=number.voice, sms=number.sms, mms=number.mms,
                address_sid=request["addressSid"] or None, bundle_sid=request["bundleSid"] or None,
            )
            response = {
                "number": phone_number,
                "locationId": location.id,
                "id": location.account_record_id,
                "underLcAccount": location.is_under_lc,
            }
            store.put_purchase(PurchaseRecord(location.id, fingerprint_id, digest, response))
            return response

    def active_numbers(self, location: Location, *, page: int = 0, page_size: int = 50, search_filter: str = "",
                       skip_number_pool: bool = True, include_rcs_sender_ids: bool = False) -> dict[str, Any]:
        self._require_phone_system(location)
        with self.store.transaction():
            # Stores keep a location's numbers in the order they were added: dateAdded order (D12).
            numbers = self.store.active_numbers(location.id)
            pooled = {n for pool in self.store.pools(location.id) for n in pool.numbers} if skip_number_pool else set()
        wanted = search_filter.strip().lower()
        digits = "".join(ch for ch in wanted if ch.isdigit())
        listed = numbers if not (pooled or wanted) else [
            n for n in numbers
            if n.phone_number not in pooled
            and (not wanted or (digits and digits in n.phone_number) or wanted in n.friendly_name.lower())
        ]
        start = page * page_size
        data: dict[str, Any] = {
            "numbers": [n.api_fragment for n in listed[start:start + page_size]],
            "isUnderLc": location.is_under_lc,
            "pageSize": page_size,
            "page": page,
            "accountStatus": location.account_status,
            "total": len(listed),
        }
        if include_rcs_sender_ids:
            data["rcsSenderIds"] = list(location.rcs_sender_ids)
        return data
