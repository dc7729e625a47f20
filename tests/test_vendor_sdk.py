"""The vendor's official Python SDK (gohighlevel-api-client 3.0.0) as a real client of the sandbox, at both versions.

Through the `lcphone.sdk()` fixture helper (the plugin checks every request the SDK sends against the contract),
and against `lcphone serve` in a process of its own. Answers are validated with the SDK's own pydantic models,
but for the generator slips the vendor names (D32).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from helpers import LEGACY, SOLD, V3, import_promised

highlevel = import_promised("highlevel", "gohighlevel-api-client==3.0.0")
from highlevel.error import GHLError  # noqa: E402
from highlevel.services.phone_system import models  # noqa: E402

SLIPS = ("dateAdded", "dateUpdated", "dateCreated")  # typed object by the vendor's generator (D32)
VENDOR = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "vendor"


def run(coroutine) -> Any:
    return asyncio.run(coroutine)


async def search(sdk, location_id: str, types: list[str], country: str = "GB", first_part: str = "") -> dict[str, Any]:
    return await sdk.phone_system.list_available_numbers_for_a_country(
        first_part=first_part,
        last_part="",
        anywhere="",
        number_types=types,
        sms_enabled=False,
        mms_enabled=False,
        voice_enabled=False,
        country_code=country,
        location_id=location_id,
    )


def purchase_body(number: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    # A dict: the SDK's own PurchasePhoneNumberBodyDto types numberType as an object (a slip, D18), and a
    # pydantic model is not what it sends anyway (it passes the body to httpx as JSON).
    return {
        "phoneNumber": number["phoneNumber"],
        "addressSid": "AD" + "1" * 32,
        "bundleSid": "BU" + "1" * 32,
        "countryCode": number["isoCountry"],
        "numberType": number["price"]["number_type"],
        "paymentIntentId": "pi_sdk",
        "stripeAccountId": "acct_sdk",
        "paymentMethodId": "pm_sdk",
        "locality": number["locality"] or "",
        "region": number["region"] or "",
        "fingerprintId": fingerprint,
        "skipLocationKYC": False,
    }


def without_slips(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "numbers": [{k: v for k, v in n.items() if k not in SLIPS} for n in data["numbers"]]}


async def every_call_at_v3(sdk, location_id: str) -> dict[str, Any]:
    """The four SDK methods at v3: a multi-type search, a purchase with its fingerprint, the list, the pools."""
    mobiles, toll_free = (
        await search(sdk, location_id, ["mobile", "tollFree"], first_part="7"),
        await search(sdk, location_id, ["mobile", "tollFree"], first_part="8"),
    )
    found = await search(sdk, location_id, ["local", "mobile"], country="US")
    bought = await sdk.phone_system.purchase_number_for_location(
        location_id, V3, purchase_body(found["numbers"][0], found["fingerprintId"])
    )
    listed = await sdk.phone_system.active_numbers(
        location_id, V3, page_size=10.0, page=0.0, include_rcs_sender_ids=True, skip_number_pool=False
    )
    pools = await sdk.phone_system.get_number_pool_list(location_id)
    return {
        "mobiles": mobiles,
        "tollFree": toll_free,
        "found": found,
        "bought": bought,
        "listed": listed,
        "pools": pools,
    }


def check_v3_answers(answers: dict[str, Any]) -> None:
    assert {n["price"]["number_type"] for n in answers["mobiles"]["numbers"]} == {"mobile"}
    assert {n["price"]["number_type"] for n in answers["tollFree"]["numbers"]} == {"tollFree"}
    bought = models.PurchaseNumberForLocationV3Http201ResponseDto.model_validate(answers["bought"])
    data = models.PurchaseNumberForLocationV3ResponseDto.model_validate(bought.data)
    assert data.number == answers["found"]["numbers"][0]["phoneNumber"] and bought.statusCode == 201
    listed = models.ListNumbersV3Http200ResponseDto.model_validate(answers["listed"])
    page = models.ListNumbersV3ResponseDto.model_validate(without_slips(listed.data))
    assert data.number in [n.phoneNumber for n in page.numbers] and page.pageSize == 10 and page.isUnderLc is True
    assert page.rcsSenderIds and page.rcsSenderIds[0].numberType == "rcsSenderId"
    with pytest.raises(ValueError):  # the slip is real: the SDK's model refuses the date strings it would get
        models.ListNumbersV3ResponseDto.model_validate(listed.data)
    assert answers["pools"]["success"] is True and answers["pools"]["total"] == len(answers["pools"]["data"]) == 1


async def every_call_at_2021_07_28(sdk, location_id: str) -> dict[str, Any]:
    found = await search(sdk, location_id, ["mobile", "tollFree"], first_part="8")
    bought = await sdk.phone_system.purchase_number_for_location(
        location_id, LEGACY, purchase_body(found["numbers"][0], found["fingerprintId"])
    )
    listed = await sdk.phone_system.active_numbers(location_id, LEGACY, page_size=1000.0, skip_number_pool=False)
    pools = await sdk.phone_system.get_number_pool_list(location_id)
    return {"found": found, "bought": bought, "listed": listed, "pools": pools}


def as_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: `nullable: true` becomes a null type."""
    if isinstance(node, dict):
        converted = {k: as_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True and "type" in node:
            converted["type"] = [node["type"], "null"]
        return converted
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    return node


def vendor_schema(name: str) -> Draft202012Validator | None:
    """A schema of the vendor's own 2021-07-28 document (the SDK has no models of that version)."""
    path = VENDOR / "phone-system.json"
    if not path.is_file():
        return None
    document = as_json_schema(json.loads(path.read_text(encoding="utf-8")))
    return Draft202012Validator({**document["components"]["schemas"][name], "components": document["components"]})


def check_legacy_answers(answers: dict[str, Any], location_id: str) -> None:
    assert {n["price"]["number_type"] for n in answers["found"]["numbers"]} == {"tollFree"}
    account = answers["bought"]
    assert account["location_id"] == location_id and account["under_ghl_account"] is True
    assert answers["found"]["numbers"][0]["phoneNumber"] in account["numbers"]
    listed = answers["listed"]
    assert "isUnderGhl" in listed and "status" not in listed and listed["pageSize"] == 1000
    assert account["numbers"].keys() == {n["phoneNumber"] for n in listed["numbers"]}
    for name, value in (("TwilioAccountResponseDto", account), ("AvailableNumbersResponseDto", answers["found"])):
        validator = vendor_schema(name)
        if validator is not None:
            assert not [e.message for e in validator.iter_errors(value)], name


# -- through the fixture --------------------------------------------------------------------------


def test_the_sdk_does_every_call_at_v3_through_the_fixture(lcphone) -> None:
    async def calls() -> dict[str, Any]:
        return await every_call_at_v3(lcphone.sdk(), lcphone.location_id)

    check_v3_answers(run(calls()))
    # The SDK sent its two version headers (`version` then `Version`), both v3: one version, no violation.
    assert {entry.version for entry in lcphone.journal} == {V3} and not lcphone.violations


def test_the_sdk_does_every_call_at_2021_07_28_through_the_fixture(lcphone) -> None:
    async def calls() -> dict[str, Any]:
        return await every_call_at_2021_07_28(lcphone.sdk(version=LEGACY), lcphone.location_id)

    check_legacy_answers(run(calls()), lcphone.location_id)
    assert {entry.version for entry in lcphone.journal} == {LEGACY}


@pytest.mark.lcphone_allow_violations  # two Version headers that disagree break the contract, on purpose here
def test_a_conflicting_version_argument_is_refused_naming_both(lcphone) -> None:
    async def call() -> None:
        await lcphone.sdk().phone_system.active_numbers(lcphone.location_id, LEGACY)  # the client is locked to v3

    with pytest.raises(GHLError) as refused:
        run(call())
    assert refused.value.status_code == 400
    assert "'2021-07-28'" in refused.value.message and "'v3'" in refused.value.message
    [(entry, violation)] = lcphone.violations  # and the plugin saw the request break the contract
    assert violation.field == "header Version" and violation.rule == "conflict"


@pytest.mark.lcphone_allow_violations
def test_a_refusal_reaches_the_sdk_in_the_vendors_shape(lcphone) -> None:
    async def calls() -> None:
        sdk = lcphone.sdk()
        found = await search(sdk, lcphone.location_id, ["local"], country="US")
        body = purchase_body(found["numbers"][0], found["fingerprintId"])
        await sdk.phone_system.purchase_number_for_location(lcphone.location_id, V3, body)
        await sdk.phone_system.purchase_number_for_location(lcphone.location_id, V3, {**body, "fingerprintId": "x"})

    with pytest.raises(GHLError) as refused:
        run(calls())
    assert refused.value.status_code == 400 and refused.value.response["message"] == SOLD


# -- against lcphone serve ---------------------------------------------------------------------------


def test_the_sdk_does_every_call_at_both_versions_against_lcphone_serve(serve) -> None:
    from mockserver.testing.sdk import vendor_sdk

    served = serve()
    location, token = served.value("location id"), served.value("token")

    async def calls() -> tuple[dict[str, Any], dict[str, Any]]:
        v3 = await every_call_at_v3(vendor_sdk(served.base_url, token), location)
        legacy = await every_call_at_2021_07_28(vendor_sdk(served.base_url, token, LEGACY), location)
        return v3, legacy

    v3, legacy = run(calls())
    check_v3_answers(v3)
    check_legacy_answers(legacy, location)


def test_a_missing_sdk_fails_the_suite_where_the_test_extra_is_installed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This environment has the test extra: an SDK that went missing is a failure, not a quiet skip."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent))
    pytester.makeconftest("import sys\n\nsys.modules['highlevel'] = None  # as if it were not installed\n")
    pytester.makepyfile(
        "from helpers import import_promised\n\n"
        "import_promised('highlevel', 'gohighlevel-api-client==3.0.0')\n\n\ndef test_sdk():\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error
    result.stdout.fnmatch_lines(["*lcphone's test extra is installed, but not gohighlevel-api-client==3.0.0*"])
