"""Tests of the example client, written the way a user of lcphone writes them."""

from __future__ import annotations

import pytest

from lcphone_client import LcPhoneError, Payment, PhoneClient

PAYMENT = Payment("pi_3PmXq2LkdIwHu7ix0s1a2b3c", "acct_1PmXq2LkdIwHu7ix", "pm_1PmXq2LkdIwHu7ixAbCdEf")


@pytest.fixture
def phone(lcphone) -> PhoneClient:
    """The client under test, in-process against a fresh sandbox (no socket)."""
    return PhoneClient(lcphone.client, lcphone.location_id)


def test_search_then_buy_then_list(phone: PhoneClient) -> None:
    found = phone.search("US", starts_with="415", sms=True)
    assert found.numbers and all(n.phone_number.startswith("+1415") and n.sms for n in found.numbers)
    bought = phone.purchase(found.numbers[0], found.fingerprint_id, PAYMENT)
    assert bought.number == found.numbers[0].phone_number and bought.under_lc_account
    assert bought.number in [n.phone_number for n in phone.iter_active_numbers()]


def test_a_retried_purchase_buys_once(phone: PhoneClient) -> None:
    found = phone.search("US")
    first = phone.purchase(found.numbers[0], found.fingerprint_id, PAYMENT)
    retry = phone.purchase(found.numbers[0], found.fingerprint_id, PAYMENT)  # e.g. after a timeout
    assert retry == first
    assert sum(n.phone_number == first.number for n in phone.iter_active_numbers()) == 1


def test_a_sold_number_is_reported(phone: PhoneClient) -> None:
    found = phone.search("US")
    phone.purchase(found.numbers[0], found.fingerprint_id, PAYMENT)
    with pytest.raises(LcPhoneError) as refused:
        phone.purchase(found.numbers[0], "a-new-fingerprint", PAYMENT)
    assert refused.value.status == 400 and refused.value.messages == ["Phone number is no longer available"]


def test_uk_numbers_need_an_address(phone: PhoneClient) -> None:
    found = phone.search("GB", ["local"])
    with pytest.raises(LcPhoneError) as refused:
        phone.purchase(found.numbers[0], found.fingerprint_id, PAYMENT, bundle_sid="BU" + "a" * 32)
    assert refused.value.status == 400 and "addressSid" in refused.value.messages[0]
    bought = phone.purchase(
        found.numbers[0], found.fingerprint_id, PAYMENT, address_sid="AD" + "a" * 32, bundle_sid="BU" + "a" * 32
    )
    assert bought.number == found.numbers[0].phone_number


def test_paging_reads_every_number_once(lcphone, phone: PhoneClient) -> None:
    lcphone.add_numbers(23)
    numbers = [n.phone_number for n in phone.iter_active_numbers(page_size=4, include_pooled=True)]
    assert len(numbers) == len(set(numbers)) == 30


def test_pools(phone: PhoneClient) -> None:
    pools = phone.number_pools()
    assert [p.name for p in pools] == ["Sales rotation"] and len(pools[0].numbers) == 2


def test_over_a_real_socket(lcphone) -> None:
    """The same client with its own connection, as it would run in production."""
    phone = PhoneClient.connect(lcphone.token, lcphone.location_id, base_url=lcphone.base_url)
    assert phone.active_numbers().total == 5
    with pytest.raises(LcPhoneError) as refused:
        PhoneClient.connect("wrong-token", lcphone.location_id, base_url=lcphone.base_url).active_numbers()
    assert refused.value.status == 401


def test_a_location_without_phone_system(lcphone) -> None:
    phone = PhoneClient(lcphone.client, "Nc8Jd4Fs6Gh2Kl0Mq9Wp")
    with pytest.raises(LcPhoneError) as refused:
        PhoneClient(
            lcphone.make_client(token="pit-coastal-full-access-00000005"), "Nc8Jd4Fs6Gh2Kl0Mq9Wp"
        ).active_numbers()
    assert refused.value.messages == ["Phone system is not connected to this account"]
    with pytest.raises(LcPhoneError) as forbidden:
        phone.active_numbers()
    assert forbidden.value.status == 403
