"""Version v3: the success envelope, isUnderLc and underLcAccount, the slim purchase answer."""

from __future__ import annotations

from typing import Any

from ..domain.models import ActiveNumber, ActiveNumberPage, PurchaseReceipt
from .base import SameAtEveryVersion, capabilities, rendered, renders

PURCHASE_MESSAGE = "Number purchase successful"
ACTIVE_NUMBERS_MESSAGE = "OK"


def envelope(data: Any, message: str, status: int) -> dict[str, Any]:
    """The v3 success envelope."""
    return {"status": "success", "data": data, "message": message, "statusCode": status}


class V3View(SameAtEveryVersion):
    @renders("purchaseNumber")
    def purchase(self, receipt: PurchaseReceipt) -> Any:
        account = receipt.account
        data = {
            "number": receipt.number,
            "locationId": account.location_id,
            "id": account.id,
            "underLcAccount": account.under_lc,
        }
        return envelope(data, PURCHASE_MESSAGE, 201)

    @renders("listActiveNumbers")
    def active_numbers(self, page: ActiveNumberPage) -> Any:
        location = page.location
        data: dict[str, Any] = {
            "numbers": rendered(self, page.numbers),
            "isUnderLc": location.is_under_lc,
            "pageSize": page.page_size,
            "page": page.page,
            "accountStatus": location.account_status,
        }
        if page.rcs_sender_ids is not None:
            data["rcsSenderIds"] = [self.rcs_sender_id(entry) for entry in page.rcs_sender_ids]
        data["total"] = page.total
        return envelope(data, ACTIVE_NUMBERS_MESSAGE, 200)

    @staticmethod
    def rcs_sender_id(entry: dict[str, Any]) -> dict[str, Any]:
        record = {"number": entry["number"], "numberType": "rcsSenderId", "friendlyName": entry["friendlyName"]}
        if entry.get("rcsMeta") is not None:
            record["rcsMeta"] = entry["rcsMeta"]
        return record

    def active_number(self, number: ActiveNumber) -> dict[str, Any]:
        """A number's v3 record. The v3 document types forwardingNumber, inboundCallService and the sids as
        non-nullable: a number without one leaves the field out instead of sending null (D26)."""
        record: dict[str, Any] = {
            "phoneNumber": number.phone_number,
            "friendlyName": number.friendly_name,
            "sid": number.sid,
            "countryCode": number.country_code,
            "capabilities": capabilities(number),
            "type": number.type,
            "isDefaultNumber": number.is_default_number,
            "linkedUser": number.linked_user,
            "linkedRingAllUsers": list(number.linked_ring_all_users),
        }
        optional = {"inboundCallService": number.inbound_call_service, "forwardingNumber": number.forwarding_number}
        record.update((name, value) for name, value in optional.items() if value is not None)
        record["isGroupConversationEnabled"] = number.is_group_conversation_enabled
        sids = {"addressSid": number.address_sid, "bundleSid": number.bundle_sid}
        record.update((name, value) for name, value in sids.items() if value is not None)
        record["dateAdded"] = number.date_added
        record["dateUpdated"] = number.date_added
        if number.date_created is not None:
            record["dateCreated"] = number.date_created
        record["origin"] = number.origin
        return record


VIEW = V3View
