"""Purchasing over HTTP: the v3 envelope, inventory and ownership, idempotent fingerprints, refusals."""

from __future__ import annotations

from helpers import (
    LEGACY,
    LOCATION,
    SOLD,
    SUSPENDED_LOCATION,
    SUSPENDED_TOKEN,
    UK_LOCATION,
    UK_TOKEN,
    UNCONNECTED_LOCATION,
    UNCONNECTED_TOKEN,
    Api,
    auth,
    offered,
    purchase_body,
)


def test_purchase_answers_the_v3_envelope_with_the_slim_data(api: Api) -> None:
    number, response = api.buy_first()
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "success" and body["statusCode"] == 201
    assert body["message"] == "Number purchase successful"
    assert set(body["data"]) == {"number", "locationId", "id", "underLcAccount"}
    assert body["data"]["number"] == number["phoneNumber"]
    assert body["data"]["locationId"] == LOCATION
    assert body["data"]["underLcAccount"] is True
    assert "under_ghl_account" not in response.text and "isUnderGhl" not in response.text


def test_under_lc_account_reflects_the_location(api: Api) -> None:
    _, response = api.buy_first(UK_LOCATION, UK_TOKEN, countryCode="GB", numberTypes="mobile")
    assert response.status_code == 201, response.text
    assert response.json()["data"]["underLcAccount"] is False


def test_the_bought_number_appears_in_the_buyers_active_numbers_only(api: Api) -> None:
    number, response = api.buy_first()
    assert response.status_code == 201
    assert number["phoneNumber"] in api.all_active_numbers()
    assert number["phoneNumber"] not in api.all_active_numbers(UK_LOCATION, UK_TOKEN)


def test_a_sold_number_cannot_be_bought_again_by_anyone(api: Api) -> None:
    number, first = api.buy_first()
    assert first.status_code == 201
    again = api.purchase(purchase_body(number, "another-fingerprint"))
    assert again.status_code == 400
    assert again.json() == {"statusCode": 400, "message": SOLD, "error": "Bad Request"}  # the vendor's words (D10)
    body = purchase_body(number, "uk-fingerprint")
    elsewhere = api.purchase(body, UK_LOCATION, UK_TOKEN)
    assert elsewhere.status_code == 400 and elsewhere.json()["message"] == SOLD


def test_a_number_owned_in_the_scenario_cannot_be_bought(api: Api) -> None:
    owned = api.all_active_numbers()[0]
    response = api.purchase(purchase_body(offered(owned), "fp-1"))
    assert response.status_code == 400 and response.json()["message"] == SOLD


def test_a_number_not_in_the_inventory_of_that_country_is_refused(api: Api) -> None:
    found = api.search().json()
    number = found["numbers"][0]
    wrong_country = api.purchase(purchase_body(number, found["fingerprintId"], countryCode="CA"))
    assert wrong_country.status_code == 400
    assert "countryCode CA" in wrong_country.json()["message"]
    unknown = api.purchase(purchase_body(number, "fp-unknown", phoneNumber="+14155550123"))
    assert unknown.status_code == 400
    assert "+14155550123" in unknown.json()["message"]


def test_number_type_must_match_the_number(api: Api) -> None:
    found = api.search().json()
    response = api.purchase(purchase_body(found["numbers"][0], found["fingerprintId"], numberType="tollFree"))
    assert response.status_code == 400
    assert response.json()["message"].startswith("numberType:")


def test_same_fingerprint_and_body_replays_the_first_answer_and_buys_nothing_more(api: Api) -> None:
    found = api.search().json()
    body = purchase_body(found["numbers"][0], found["fingerprintId"])
    before = api.all_active_numbers()
    first = api.purchase(body)
    replay = api.purchase(body)
    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content
    assert len(api.all_active_numbers()) == len(before) + 1


def test_same_fingerprint_with_another_body_is_refused(api: Api) -> None:
    found = api.search().json()
    first = api.purchase(purchase_body(found["numbers"][0], found["fingerprintId"]))
    assert first.status_code == 201
    other = api.purchase(purchase_body(found["numbers"][1], found["fingerprintId"]))
    assert other.status_code == 400
    assert "fingerprintId" in other.json()["message"]
    assert found["numbers"][1]["phoneNumber"] not in api.all_active_numbers()


def test_a_refused_purchase_does_not_burn_the_fingerprint(api: Api) -> None:
    found = api.search().json()
    number = found["numbers"][0]
    refused = api.purchase(purchase_body(number, found["fingerprintId"], numberType="mobile"))
    assert refused.status_code == 400
    assert api.purchase(purchase_body(number, found["fingerprintId"])).status_code == 201


def test_numbers_that_need_an_address_require_an_address_sid(api: Api) -> None:
    found = api.search(UK_LOCATION, UK_TOKEN, countryCode="GB").json()
    number = found["numbers"][0]
    assert number["addressRequirements"] == "local"
    missing = api.purchase(purchase_body(number, found["fingerprintId"], addressSid=""), UK_LOCATION, UK_TOKEN)
    assert missing.status_code == 400 and missing.json()["message"].startswith("addressSid:")
    ok = api.purchase(purchase_body(number, found["fingerprintId"]), UK_LOCATION, UK_TOKEN)
    assert ok.status_code == 201


def test_bundle_is_required_in_gb_unless_kyc_is_skipped(api: Api) -> None:
    found = api.search(UK_LOCATION, UK_TOKEN, countryCode="GB", numberTypes="mobile").json()
    first, second = found["numbers"][:2]
    refused = api.purchase(purchase_body(first, "fp-a", bundleSid=""), UK_LOCATION, UK_TOKEN)
    assert refused.status_code == 400 and refused.json()["message"].startswith("bundleSid:")
    skipped = api.purchase(purchase_body(second, "fp-b", bundleSid="", skipLocationKYC=True), UK_LOCATION, UK_TOKEN)
    assert skipped.status_code == 201


def test_us_numbers_need_no_address_nor_bundle(api: Api) -> None:
    found = api.search().json()
    response = api.purchase(purchase_body(found["numbers"][0], found["fingerprintId"], addressSid="", bundleSid=""))
    assert response.status_code == 201


def test_bought_number_record_keeps_the_sids_and_capabilities(api: Api) -> None:
    number, response = api.buy_first()
    assert response.status_code == 201
    listed = api.active(searchFilter=number["phoneNumber"]).json()["data"]["numbers"]
    assert len(listed) == 1
    record = listed[0]
    assert record["addressSid"] == "AD" + "0" * 32 and record["bundleSid"] == "BU" + "0" * 32
    assert record["capabilities"]["sms"] == number["capabilities"]["SMS"]
    assert record["capabilities"]["mms"] == number["capabilities"]["MMS"]
    assert record["type"] == "local" and record["origin"] == "twilio"
    assert record["friendlyName"] == number["friendlyName"]


def test_suspended_account_cannot_buy(api: Api) -> None:
    found = api.search(SUSPENDED_LOCATION, SUSPENDED_TOKEN).json()
    response = api.purchase(purchase_body(found["numbers"][0], "fp"), SUSPENDED_LOCATION, SUSPENDED_TOKEN)
    assert response.status_code == 400
    assert "suspended" in response.json()["message"]


def test_purchase_needs_a_connected_phone_system(api: Api) -> None:
    body = purchase_body(offered("+14155550123"), "fp")
    response = api.purchase(body, UNCONNECTED_LOCATION, UNCONNECTED_TOKEN)
    assert response.status_code == 404
    assert response.json()["message"] == "Phone system is not connected to this account"


def test_purchase_requires_the_write_scope(api: Api, http) -> None:
    found = api.search().json()
    body = purchase_body(found["numbers"][0], found["fingerprintId"])
    response = http.post(
        f"/phone-system/numbers/location/{LOCATION}/purchase", json=body, headers=auth("pit-acme-read-only-00000000002")
    )
    assert response.status_code == 401
    assert "phonenumbers.write" in response.json()["message"]


def test_at_2021_07_28_the_answer_is_the_twilio_account_document(api: Api) -> None:
    found = api.search().json()
    number = found["numbers"][0]
    owned_before = api.all_active_numbers(skipNumberPool=False)
    response = api.purchase({"phoneNumber": number["phoneNumber"]}, version=LEGACY)  # only phoneNumber is required
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["under_ghl_account"] is True and account["location_id"] == LOCATION
    assert account["account_sid"].startswith("AC") and len(account["account_sid"]) == 34
    assert set(account["numbers"]) == {*owned_before, number["phoneNumber"]}
    assert set(account["numbers"].values()) == {"conversation"}
    assert account["number_name"][number["phoneNumber"]] == number["friendlyName"]
    assert "underLcAccount" not in response.text and "status" not in account


def test_the_account_id_is_the_same_at_both_versions(api: Api) -> None:
    _, first = api.buy_first()
    found = api.search().json()
    second = api.purchase(purchase_body(found["numbers"][0], found["fingerprintId"]), version=LEGACY)
    assert first.json()["data"]["id"] == second.json()["id"]
    assert second.json()["under_ghl_account"] == first.json()["data"]["underLcAccount"]


def test_at_2021_07_28_a_purchase_without_fingerprint_is_not_idempotent(api: Api) -> None:
    number = api.search().json()["numbers"][0]
    assert api.purchase({"phoneNumber": number["phoneNumber"]}, version=LEGACY).status_code == 201
    again = api.purchase({"phoneNumber": number["phoneNumber"]}, version=LEGACY)
    assert again.status_code == 400 and again.json()["message"] == SOLD


def test_a_replay_at_the_other_version_answers_the_same_purchase_in_its_shape(api: Api) -> None:
    found = api.search().json()
    body = purchase_body(found["numbers"][0], found["fingerprintId"])
    first = api.purchase(body)
    before = api.all_active_numbers(skipNumberPool=False)
    legacy = api.purchase(body, version=LEGACY)
    assert legacy.status_code == 201 and legacy.json()["id"] == first.json()["data"]["id"]
    assert found["numbers"][0]["phoneNumber"] in legacy.json()["numbers"]
    assert api.all_active_numbers(skipNumberPool=False) == before  # bought once
    assert api.purchase(body).content == first.content  # byte for byte at the same version


def test_at_2021_07_28_unknown_body_fields_are_ignored_and_nulls_accepted(api: Api) -> None:
    number = api.search().json()["numbers"][0]
    body = {
        "phoneNumber": number["phoneNumber"],
        "addressSid": None,
        "bundleSid": None,
        "fingerprintId": None,
        "paymentIntentId": "pi_1",
        "somethingElse": 1,
    }
    assert api.purchase(body, version=LEGACY).status_code == 201
