"""Version 2021-07-28: bare answers, isUnderGhl and under_ghl_account, the Twilio account document."""

from __future__ import annotations

from typing import Any

from ..domain.models import ActiveNumber, ActiveNumberPage, PurchaseReceipt
from .base import SameAtEveryVersion, capabilities, rendered, renders


class LegacyView(SameAtEveryVersion):
    @renders("purchaseNumber")
    def purchase(self, receipt: PurchaseReceipt) -> Any:
        account = receipt.account
        held = receipt.numbers_held()
        return {
            "id": account.id,
            "account_sid": account.account_sid,
            "under_ghl_account": account.under_lc,
            "validate_sms": account.validate_sms,
            "location_id": account.location_id,
            "migration_status": None,
            "migration_numbers": [],
            "assigned_to_numbers": {n.phone_number: n.linked_user for n in held if n.linked_user},
            "numbers": {n.phone_number: "conversation" for n in held},
            "number_name": {n.phone_number: n.friendly_name for n in held},
            "new_account_sid": "",
        }

    @renders("listActiveNumbers")
    def active_numbers(self, page: ActiveNumberPage) -> Any:
        # No total at this version: the vendor's schema does not list it (D30).
        location = page.location
        return {
            "numbers": rendered(self, page.numbers),
            "isUnderGhl": location.is_under_lc,
            "pageSize": page.page_size,
            "page": page.page,
            "accountStatus": location.account_status,
        }

    def active_number(self, number: ActiveNumber) -> dict[str, Any]:
        """The vendor's DetailedPhoneNumberDto: every field, null where the number has none."""
        return {
            "phoneNumber": number.phone_number,
            "friendlyName": number.friendly_name,
            "sid": number.sid,
            "countryCode": number.country_code,
            "capabilities": capabilities(number),
            "type": number.type,
            "isDefaultNumber": number.is_default_number,
            "linkedUser": number.linked_user,
            "linkedRingAllUsers": list(number.linked_ring_all_users),
            "inboundCallService": number.inbound_call_service,
            "forwardingNumber": number.forwarding_number,
            "isGroupConversationEnabled": number.is_group_conversation_enabled,
            "addressSid": number.address_sid,
            "bundleSid": number.bundle_sid,
            "dateAdded": number.date_added,
            "dateUpdated": number.date_added,
            "origin": number.origin,
        }


VIEW = LegacyView
