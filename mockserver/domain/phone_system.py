"""The rules of the LC Phone service, as plain Python: auth, pools, search, purchase, active numbers.

Routes call these methods with typed values and get models back (`models.py`);
the views turn those into each version's wire shapes. Every refusal is an
`ApiError` in the vendor's shape. All state goes through the store.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import phonenumbers
from faker import Faker

from .. import errors
from ..contract.operations import registry as operations
from .ids import IdFactory
from .inventory import Inventory, InventoryNumber, SearchQuery
from .models import (
    ACTIVE_TYPE_FOR,
    ActiveNumber,
    ActiveNumberPage,
    Location,
    NumberPool,
    NumberPoolList,
    PurchaseReceipt,
    PurchaseRecord,
    SearchResult,
    Token,
    TwilioAccount,
)
from .scenario import Scenario, ScenarioError
from .store import MemoryStore, Store

_ADDRESS_SID = re.compile(r"^AD[0-9a-f]{32}$")
_BUNDLE_SID = re.compile(r"^BU[0-9a-f]{32}$")


_COMPANY_NAMES_LOCK = threading.Lock()


@functools.cache
def _company_names() -> Faker:
    """One Faker for every phone system (making one costs more than a reset), seeded before each name."""
    return Faker("en_US")


@functools.lru_cache(maxsize=16)
def _clock_start(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _timestamp(moment: datetime) -> str:
    # What strftime("%Y-%m-%dT%H:%M:%S.000Z") writes, at a third of its cost (one per purchase).
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.000Z"
    )


def request_digest(body: Any) -> str:
    """What identifies a purchase request: its body, keys sorted."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def number_filter(search_filter: str) -> Callable[[ActiveNumber], bool] | None:
    """What `searchFilter` lets through (D13), or None for no filter: a partial, case-insensitive match on the
    number as written in E.164, its `+` included (the vendor's example: "+91" finds the Indian numbers, and so
    "+55" finds no US number), or on its friendly name. Matched against the number, the filter's characters
    other than digits and `+` are separators: "(415) 555" and "+1 415" find +14155550143."""
    wanted = search_filter.strip().lower()
    if not wanted:
        return None
    pattern = "".join(ch for ch in wanted if ch.isdigit() or ch == "+")

    def matches(number: ActiveNumber) -> bool:
        return bool(pattern) and pattern in number.phone_number or wanted in number.friendly_name.lower()

    return matches


@dataclass(slots=True)  # one per purchase request: not frozen, cheaper to build
class PurchaseOrder:
    """A purchase request, typed. countryCode and numberType may be left out at 2021-07-28 (the number's own)."""

    phone_number: str
    digest: str
    country_code: str | None = None
    number_type: str | None = None
    address_sid: str = ""
    bundle_sid: str = ""
    skip_location_kyc: bool = False
    fingerprint_id: str | None = None  # None: not idempotent (2021-07-28 only, D9)


class PhoneSystem:
    def __init__(self, inventory: Inventory, seed: int, scenario: Scenario, store: Store | None = None) -> None:
        self.inventory = inventory
        self.seed = seed
        self.ids = IdFactory(seed)
        self.store: Store = store if store is not None else MemoryStore()
        self.scenario = scenario
        self._proven: Scenario | None = None  # the scenario last loaded whole

    # -- lifecycle ---------------------------------------------------------------

    def load(self, scenario: Scenario) -> None:
        """The scenario's starting state (the same state, byte for byte, every time), or no change at all.

        A scenario whose content cannot be honoured (a pool bigger than its numbers...) is refused whole: it is
        tried on a scratch store first, so that no store, whether it can roll back or not, is touched by it.
        """
        if scenario is not self._proven:  # a reset loads the scenario it already holds: nothing to try
            PhoneSystem(self.inventory, self.seed, scenario, MemoryStore())._fill(scenario)
        self._fill(scenario)
        self._proven = scenario

    def _fill(self, scenario: Scenario) -> None:
        store = self.store
        try:
            with store.transaction():
                store.clear()
                self.scenario = scenario  # the clock of the dates below is the scenario's
                for index, entry in enumerate(scenario.locations):
                    self._load_location(entry, f"locations.{index}")
                for entry in scenario.agency_tokens:
                    self._put_token(entry, location_id=None)
        except errors.ApiError as error:
            raise ScenarioError([f"scenario {scenario.name!r}: {problem}" for problem in error.problems]) from None

    def _load_location(self, entry: dict[str, Any], where: str) -> None:
        try:
            self.load_location(entry)
        except errors.ApiError as error:
            raise errors.validation_error([f"{where}: {problem}" for problem in error.problems]) from None

    def load_location(self, entry: dict[str, Any]) -> Location:
        with self.store.transaction():
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
            for index, number in enumerate(entry.get("numbers", [])):
                try:
                    if "draw" in number:
                        draw = number["draw"]
                        self.add_numbers(location.id, draw["countryCode"], draw["numberType"], draw["count"])
                    else:
                        self.add_owned_number(location.id, number)
                except errors.ApiError as error:
                    raise errors.validation_error([f"numbers.{index}: {p}" for p in error.problems]) from None
            for index, pool in enumerate(entry.get("pools", [])):
                try:
                    self.add_pool(location.id, pool)
                except errors.ApiError as error:
                    raise errors.validation_error([f"pools.{index}: {p}" for p in error.problems]) from None
            return location

    def _put_token(self, entry: dict[str, Any], location_id: str | None) -> Token:
        store = self.store
        value = entry.get("value") or self.ids.access_token(store.next_sequence("token"))
        existing = store.get_token(value)
        if existing is not None and existing.location_id != location_id:
            owner = existing.location_id or "the agency"
            raise errors.validation_error([f"tokens: {errors.quoted(value, 40)} already belongs to {owner}"])
        token = Token(value, location_id, frozenset(entry.get("scopes", operations().scopes)))
        store.put_token(token)
        return token

    # -- seeding (scenarios, admin API, fixtures) --------------------------------

    def _company_name(self, location_id: str) -> str:
        """A made-up business name for a location created without one, the same for the same seed and id."""
        fake = _company_names()
        with _COMPANY_NAMES_LOCK:
            fake.seed_instance(f"{self.seed}:{location_id}")
            return str(fake.company())

    def create_location(
        self,
        location_id: str,
        *,
        name: str | None = None,
        is_under_lc: bool = True,
        account_status: str = "active",
        phone_system_connected: bool = True,
        account_record_id: str | None = None,
        rcs_sender_ids: Iterable[dict[str, Any]] = (),
    ) -> Location:
        store = self.store
        with store.transaction():
            sequence = store.next_sequence("account")
            location = Location(
                id=location_id,
                name=name or self._company_name(location_id),
                account_record_id=account_record_id or self.ids.record_id("account", sequence),
                account_sid=self.ids.twilio_sid("AC", "account", sequence),
                is_under_lc=is_under_lc,
                account_status=account_status,
                phone_system_connected=phone_system_connected,
                rcs_sender_ids=[{"friendlyName": name or location_id, **entry} for entry in rcs_sender_ids],
            )
            store.put_location(location)
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
        return _timestamp(_clock_start(self.scenario.clock_start) + timedelta(minutes=minutes))

    def _new_active_number(
        self,
        location_id: str,
        phone_number: str,
        friendly_name: str,
        country: str,
        number_type: str,
        is_default: bool | None = None,
        sid: str | None = None,
        date_added: str | None = None,
        **details: Any,
    ) -> ActiveNumber:
        store = self.store
        if is_default is None:  # a location's first number is its default number, unless told otherwise
            is_default = not store.has_active_numbers(location_id)
        # The sequences advance whether or not a recorded number brings its own id and date, so that the ids
        # of the numbers after it are the same either way.
        generated_sid = self.ids.twilio_sid("PN", "number", store.next_sequence("number"))
        generated_date = self._next_date()
        number = ActiveNumber(
            phone_number=phone_number,
            friendly_name=friendly_name,
            sid=sid or generated_sid,
            country_code=country,
            type=ACTIVE_TYPE_FOR.get(number_type, number_type),
            date_added=date_added or generated_date,
            is_default_number=is_default,
            **details,
        )
        store.add_active_number(location_id, number)
        return number

    def _activate(self, location_id: str, number: InventoryNumber, **details: Any) -> ActiveNumber:
        """A number of the inventory, now the location's."""
        return self._new_active_number(
            location_id,
            number.phone_number,
            number.friendly_name,
            number.country,
            number.number_type,
            voice=number.voice,
            sms=number.sms,
            mms=number.mms,
            **details,
        )

    def add_numbers(self, location_id: str, country: str, number_type: str, count: int) -> list[ActiveNumber]:
        """Gives the location `count` numbers from the inventory (the first available, in inventory order)."""
        with self.store.transaction():
            self.ensure_location(location_id)
            drawn = self.inventory.draw(country, number_type, count, self.is_available)
            if len(drawn) < count:
                if not self.inventory.has(country, number_type):
                    raise errors.bad_request(
                        f"countryCode: the inventory has no {number_type} numbers of {country} "
                        f"(it has numbers of {', '.join(self.inventory.countries)})"
                    )
                raise errors.bad_request(
                    f"count: {count} {number_type} numbers of {country} were asked for; "
                    f"only {len(drawn)} are left in the inventory"
                )
            return [self._activate(location_id, n) for n in drawn]

    def add_owned_number(self, location_id: str, entry: dict[str, Any]) -> ActiveNumber:
        """Gives the location a number described in full (ported, hosted, or taken from the inventory)."""
        phone_number = entry["phoneNumber"]
        try:
            parsed = phonenumbers.parse(phone_number)
        except phonenumbers.NumberParseException as error:
            raise errors.bad_request(f"phoneNumber {errors.quoted(phone_number, 40)}: {error}") from None
        if not phonenumbers.is_valid_number(parsed):
            raise errors.bad_request(f"phoneNumber {phone_number} is not a valid phone number")
        with self.store.transaction():
            self.ensure_location(location_id)
            owner = self.store.owner_of(phone_number)
            if owner is not None:
                raise errors.bad_request(f"phoneNumber {phone_number} already belongs to location {owner}")
            capabilities = entry.get("capabilities", {})
            return self._new_active_number(
                location_id,
                phone_number,
                entry.get("friendlyName")
                or phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
                phonenumbers.region_code_for_number(parsed) or "ZZ",
                entry.get("numberType", "local"),
                is_default=entry.get("isDefaultNumber"),
                sid=entry.get("sid"),
                date_added=entry.get("dateAdded"),
                voice=capabilities.get("voice", True),
                sms=capabilities.get("sms", True),
                mms=capabilities.get("mms", False),
                fax=capabilities.get("fax", False),
                origin=entry.get("origin", "ported"),
                forwarding_number=entry.get("forwardingNumber"),
                linked_user=entry.get("linkedUser"),
                linked_ring_all_users=list(entry.get("linkedRingAllUsers", [])),
                inbound_call_service=entry.get("inboundCallService"),
                is_group_conversation_enabled=entry.get("isGroupConversationEnabled", False),
                address_sid=entry.get("addressSid"),
                bundle_sid=entry.get("bundleSid"),
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
                    raise errors.bad_request(
                        f"numbers: location {location_id} has only {len(free)} numbers outside pools"
                    )
                members = free[:wanted]
            else:
                strangers = [n for n in wanted if n not in owned]
                if strangers:
                    raise errors.bad_request(
                        f"numbers: {', '.join(strangers[:10])} are not numbers of location {location_id}"
                    )
                members = list(wanted)
            generated_id = "npool_" + self.ids.hex("pool", self.store.next_sequence("pool"), 20)
            pool = NumberPool(
                id=entry.get("id") or generated_id,
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

    @staticmethod
    def authorize(token: Token, scopes: tuple[str, ...]) -> None:
        """The token may call an operation that needs `scopes` (D2); agency tokens may not (D15)."""
        if token.is_agency:
            raise errors.agency_token_refused()
        for scope in scopes:
            if scope not in token.scopes:
                raise errors.missing_scope(scope)

    def location_for(self, token: Token, location_id: str | None) -> Location:
        """The location a request acts on: the one named, which must be the token's; else the token's own."""
        location_id = location_id or token.location_id
        if location_id is None or location_id != token.location_id:
            raise errors.no_location_access()
        location = self.store.get_location(location_id)
        if location is None:  # a token outlived its location: the service would not know it either
            raise errors.invalid_token()
        return location

    # -- the four operations -------------------------------------------------------

    def is_available(self, phone_number: str) -> bool:
        return self.store.owner_of(phone_number) is None

    @staticmethod
    def _require_phone_system(location: Location) -> None:
        if not location.phone_system_connected:
            raise errors.phone_system_not_connected()

    def number_pools(self, location: Location) -> NumberPoolList:
        with self.store.reading():
            pools = self.store.pools(location.id)
            return NumberPoolList(pools, self.friendly_names(pools))

    def friendly_names(self, pools: list[NumberPool]) -> dict[str, str]:
        """The friendly names of the numbers in `pools` (looked up one by one: a location may hold many more)."""
        names = {}
        for pool in pools:
            for phone_number in pool.numbers:
                number = self.store.active_number(phone_number)
                if number is not None:
                    names[phone_number] = number.friendly_name
        return names

    def search_available(self, location: Location, query: SearchQuery) -> SearchResult:
        self._require_phone_system(location)
        with self.store.reading():
            found = self.inventory.search(query, self.is_available)
            fingerprint = self.ids.uuid("fingerprint", self.store.next_sequence("fingerprint"))
        return SearchResult(found, fingerprint)

    def purchase(self, location: Location, order: PurchaseOrder) -> PurchaseReceipt:
        """Buys a number for the location. Idempotent per fingerprintId (D9); refusals are 400s (D10, D11)."""
        self._require_phone_system(location)
        if location.account_status != "active":
            raise errors.bad_request(
                f"The phone system account of this location is {location.account_status}: numbers cannot be purchased."
            )
        phone_number = order.phone_number
        store = self.store
        with store.transaction():
            if order.fingerprint_id is not None:
                previous = store.get_purchase(location.id, order.fingerprint_id)
                if previous is not None:
                    if previous.request_digest != order.digest:
                        raise errors.bad_request(
                            f"fingerprintId {errors.quoted(order.fingerprint_id, 60)} was already used for another "
                            "purchase request; send a new fingerprintId for a new purchase."
                        )
                    return self.receipt(previous.receipt.number, previous.receipt.account)
            if store.owner_of(phone_number) is not None:
                raise errors.number_no_longer_available()
            number = self.inventory.get(phone_number)
            country = order.country_code or (number.country if number else None)
            if number is None or number.country != country:
                raise errors.bad_request(
                    f"phoneNumber {phone_number} is not an available number in countryCode {country}."
                )
            if order.number_type is not None and number.number_type != order.number_type:
                raise errors.bad_request(
                    f"numberType: {phone_number} is a {number.number_type} number, not {order.number_type}."
                )
            if number.address_requirements != "none" and not _ADDRESS_SID.match(order.address_sid):
                raise errors.bad_request(
                    f"addressSid: {phone_number} needs an address (addressRequirements: "
                    f"{number.address_requirements}); send the sid of a Twilio address, AD followed by 32 hex digits."
                )
            if number.bundle_required and not order.skip_location_kyc and not _BUNDLE_SID.match(order.bundle_sid):
                raise errors.bad_request(
                    f"bundleSid: numbers of {country} need a regulatory bundle (BU followed by 32 hex digits), "
                    "unless skipLocationKYC is true."
                )
            self._activate(
                location.id, number, address_sid=order.address_sid or None, bundle_sid=order.bundle_sid or None
            )
            receipt = self.receipt(phone_number, self.account(location))
            if order.fingerprint_id is not None:
                store.put_purchase(PurchaseRecord(location.id, order.fingerprint_id, order.digest, receipt))
            return receipt

    def account(self, location: Location) -> TwilioAccount:
        """The location's Twilio account document, as it stands now."""
        return TwilioAccount(
            id=location.account_record_id,
            account_sid=location.account_sid,
            under_lc=location.is_under_lc,
            validate_sms=location.validate_sms,
            location_id=location.id,
            numbers_held=self.store.count_active_numbers(location.id),
        )

    def receipt(self, phone_number: str, account: TwilioAccount) -> PurchaseReceipt:
        """A receipt whose answer can show the account's numbers (read only when an answer shows them)."""
        location_id = account.location_id
        return PurchaseReceipt(phone_number, account, lambda: self.store.active_numbers(location_id))

    def active_numbers(
        self,
        location: Location,
        *,
        page: int | float = 0,
        page_size: int = 50,
        search_filter: str = "",
        skip_number_pool: bool = True,
        include_rcs_sender_ids: bool = False,
    ) -> ActiveNumberPage:
        self._require_phone_system(location)
        with self.store.reading():
            # Stores keep a location's numbers in the order they were added: dateAdded order (D12).
            numbers = self.store.active_numbers(location.id)
            pooled = {n for pool in self.store.pools(location.id) for n in pool.numbers} if skip_number_pool else set()
        start = int(min(page, len(numbers))) * page_size  # a page past the end is empty, however far past
        matches = number_filter(search_filter) if search_filter else None
        if matches is not None:
            listed = [n for n in numbers if n.phone_number not in pooled and matches(n)]
            shown, total = listed[start : start + page_size], len(listed)
        elif pooled:
            # Pools hold only the location's own numbers, which are never taken away: the page lies within the
            # first start + page_size + len(pooled) numbers, which are read, not the whole list; the total is a
            # difference.
            window = numbers[: start + page_size + len(pooled)]
            shown = [n for n in window if n.phone_number not in pooled][start : start + page_size]
            total = len(numbers) - len(pooled)
        else:
            shown, total = list(numbers[start : start + page_size]), len(numbers)
        return ActiveNumberPage(
            location=location,
            numbers=shown,
            page=page,
            page_size=page_size,
            total=total,
            rcs_sender_ids=list(location.rcs_sender_ids) if include_rcs_sender_ids else None,
        )
