"""The sandbox's resources as plain objects, named in the API's own words."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

ALL_SCOPES: tuple[str, ...] = ("phonenumbers.read", "phonenumbers.write", "numberpools.read")

# Search and purchase say "tollFree"; the active-number record says "toll-free".
ACTIVE_TYPE_FOR = {"local": "local", "tollFree": "toll-free", "mobile": "mobile"}


@dataclass
class Location:
    id: str
    name: str
    account_record_id: str
    is_under_lc: bool = True
    account_status: str = "active"  # active | suspended | closed
    phone_system_connected: bool = True
    rcs_sender_ids: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Token:
    value: str
    location_id: str | None  # None: an agency token, valid for every location
    scopes: frozenset[str]

    def can_access(self, location_id: str) -> bool:
        return self.location_id is None or self.location_id == location_id


@dataclass
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

    def to_api(self) -> dict[str, Any]:
        return {
            "phoneNumber": self.phone_number,
            "friendlyName": self.friendly_name,
            "sid": self.sid,
            "countryCode": self.country_code,
            "capabilities": {"voice": self.voice, "sms": self.sms, "mms": self.mms, "fax": self.fax},
            "type": self.type,
            "isDefaultNumber": self.is_default_number,
            "linkedUser": self.linked_user,
            "linkedRingAllUsers": list(self.linked_ring_all_users),
            "inboundCallService": self.inbound_call_service,
            "forwardingNumber": self.forwarding_number,
            "isGroupConversationEnabled": self.is_group_conversation_enabled,
            "addressSid": self.address_sid,
            "bundleSid": self.bundle_sid,
            "dateAdded": self.date_added,
            "dateUpdated": self.date_added,
            "origin": self.origin,
        }

    @functools.cached_property
    def api_fragment(self) -> orjson.Fragment:
        """The record, serialized once (numbers do not change once added): listing pages join these."""
        return orjson.Fragment(orjson.dumps(self.to_api()))

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


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

    def to_api(self, friendly_names: dict[str, str]) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "locationId": self.location_id,
            "numbers": [{"phoneNumber": n, "friendlyName": friendly_names.get(n, n)} for n in self.numbers],
            "forwardingNumber": self.forwarding_number,
            "whisper": self.whisper,
            "whisperMessage": self.whisper_message,
            "callRecording": self.call_recording,
            "isActive": self.is_active,
            "inboundCallService": self.inbound_call_service,
        }


@dataclass(frozen=True)
class PurchaseRecord:
    """What an idempotent purchase answered, kept under its fingerprint."""

    location_id: str
    fingerprint_id: str
    request_digest: str
    response: dict[str, Any]
