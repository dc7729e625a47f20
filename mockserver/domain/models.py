"""The sandbox's resources and the domain's answers, as plain objects named in the API's own words.

Nothing here knows an API version: `views/` turns these into each version's
wire shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .inventory import InventoryNumber

# Search and purchase say "tollFree"; the active-number record says "toll-free".
ACTIVE_TYPE_FOR = {"local": "local", "tollFree": "toll-free", "mobile": "mobile"}
NUMBER_TYPES: tuple[str, ...] = tuple(ACTIVE_TYPE_FOR)  # what the inventory sells, in the search's words


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    """A dataclass's field names, found once (`fields()` on every record costs more than the record)."""
    return tuple(f.name for f in fields(kind))


@dataclass
class Location:
    id: str
    name: str
    account_record_id: str  # the id of the location's Twilio account document
    account_sid: str = ""  # AC + 32 hex
    is_under_lc: bool = True
    account_status: str = "active"  # active | suspended | closed
    phone_system_connected: bool = True
    validate_sms: bool = True
    rcs_sender_ids: list[dict[str, Any]] = field(default_factory=list)  # {number, friendlyName, rcsMeta}


@dataclass(frozen=True)
class Token:
    value: str
    location_id: str | None  # None: an agency token (refused by these endpoints, D15)
    scopes: frozenset[str]

    @property
    def is_agency(self) -> bool:
        return self.location_id is None


@dataclass(eq=False)
class ActiveNumber:
    phone_number: str
    friendly_name: str
    sid: str
    country_code: str
    type: str  # local | toll-free | mobile | national
    date_added: str
    voice: bool = True
    sms: bool = True
    mms: bool = False
    fax: bool = False
    is_default_number: bool = False
    linked_user: str | None = None
    linked_ring_all_users: list[str] = field(default_factory=list)
    inbound_call_service: dict[str, str] | None = None
    forwarding_number: str | None = None
    is_group_conversation_enabled: bool = False
    address_sid: str | None = None
    bundle_sid: str | None = None
    origin: str = "twilio"  # twilio | hosted | ported

    def __post_init__(self) -> None:
        # Wire forms rendered by the views, kept with the number: numbers do not change once added.
        self.rendered: dict[str, Any] = {}

    @property
    def date_created(self) -> str | None:
        """Only numbers of another provider carry it (D28)."""
        return self.date_added if self.origin != "twilio" else None

    def to_record(self) -> dict[str, Any]:
        held = self.__dict__
        return {name: held[name] for name in _field_names(ActiveNumber)}


@dataclass
class NumberPool:
    id: str
    name: str
    location_id: str
    numbers: list[str]  # phone numbers, each one of the location's active numbers
    forwarding_number: str | None = None
    whisper: bool = False
    whisper_message: str | None = None
    call_recording: bool = False
    is_active: bool = True
    inbound_call_service: dict[str, str] | None = None


@dataclass(frozen=True)
class TwilioAccount:
    """A location's Twilio account document, as it stood after a purchase.

    Its numbers are the location's first `numbers_held` active numbers (a location's numbers are only ever
    added, in order), so that a purchase costs the same however many the location holds, and its record
    stays small.
    """

    id: str
    account_sid: str
    under_lc: bool
    validate_sms: bool
    location_id: str
    numbers_held: int

    def to_record(self) -> dict[str, Any]:
        held = self.__dict__
        return {name: held[name] for name in _field_names(TwilioAccount)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TwilioAccount:
        if "numbers_held" not in record:  # written by lcphone 0.2, with the numbers themselves
            record = {**record, "numbers_held": len(record["numbers"])}
            for written in ("numbers", "number_names", "assigned_to_numbers"):
                record.pop(written)
        return cls(**record)


@dataclass(frozen=True)
class PurchaseReceipt:
    """What a purchase bought, and the account it went to. `holdings` reads the location's numbers when an
    answer shows them (the 2021-07-28 one); it is not part of the record."""

    number: str
    account: TwilioAccount
    holdings: Callable[[], Sequence[ActiveNumber]] | None = field(default=None, compare=False, repr=False)

    def numbers_held(self) -> list[ActiveNumber]:
        """The numbers the account held after the purchase."""
        assert self.holdings is not None, "a receipt from the phone system carries its holdings"
        return list(self.holdings()[: self.account.numbers_held])

    def to_record(self) -> dict[str, Any]:
        return {"number": self.number, "account": self.account.to_record()}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> PurchaseReceipt:
        return cls(record["number"], TwilioAccount.from_record(record["account"]))


@dataclass(frozen=True)
class PurchaseRecord:
    """A purchase kept under its fingerprint, so that a replay answers the same (D9)."""

    location_id: str
    fingerprint_id: str
    request_digest: str
    receipt: PurchaseReceipt


@dataclass(slots=True)  # an answer of one request: not frozen, cheaper to build
class NumberPoolList:
    pools: list[NumberPool]
    friendly_names: dict[str, str]  # the location's numbers -> their friendly names


@dataclass(slots=True)  # an answer of one request: not frozen, cheaper to build
class SearchResult:
    numbers: list[InventoryNumber]
    fingerprint_id: str


@dataclass(slots=True)  # an answer of one request: not frozen, cheaper to build
class ActiveNumberPage:
    location: Location
    numbers: list[ActiveNumber]
    page: int | float  # as asked for (whole, but a float when too large for an integer)
    page_size: int
    total: int  # numbers that match the filters, over all pages
    rcs_sender_ids: list[dict[str, Any]] | None = None  # only when asked for
