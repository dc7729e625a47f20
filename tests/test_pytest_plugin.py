"""The pytest plugin, exercised as users run it: through pytest's own pytester."""

from __future__ import annotations

import pytest

from mockserver import Sandbox
from mockserver.serve.thread import SandboxServer

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

# The test files below are run by pytester; this helper is pasted into those that buy.
BUY_FIRST = '''
def buy_first(lcphone):
    """Searches US local numbers and buys the first one found; returns the purchase answer."""
    client = lcphone.client
    found = client.get(f"/phone-system/numbers/location/{lcphone.location_id}/available", params=dict(
        firstPart="", lastPart="", anywhere="", numberTypes="local", smsEnabled="false", mmsEnabled="false",
        voiceEnabled="false", countryCode="US")).json()
    number = found["numbers"][0]
    body = {"phoneNumber": number["phoneNumber"], "addressSid": "", "bundleSid": "", "countryCode": "US",
            "numberType": "local", "paymentIntentId": "pi_1", "stripeAccountId": "acct_1", "paymentMethodId": "pm_1",
            "locality": "", "region": "", "fingerprintId": found["fingerprintId"], "skipLocationKYC": False}
    return client.post(f"/phone-system/numbers/location/{lcphone.location_id}/purchase", json=body)
'''

CLIENT_TESTS = """
import httpx
import pytest

ACTIVE = "/phone-system/numbers/location/{}"

def test_lists_numbers(lcphone):
    response = lcphone.client.get(ACTIVE.format(lcphone.location_id))
    assert response.status_code == 200
    assert response.json()["data"]["total"] == 5

def test_over_a_real_socket(lcphone_server, lcphone):
    assert lcphone.base_url == lcphone_server.base_url and lcphone.base_url.startswith("http://127.0.0.1:")
    response = httpx.get(lcphone.base_url + ACTIVE.format(lcphone.location_id), headers=lcphone.headers())
    assert response.status_code == 200

async def _in_process(lcphone):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=lcphone.asgi_app), base_url="http://x",
                                 headers=lcphone.headers()) as client:
        return await client.get(ACTIVE.format(lcphone.location_id))

def test_in_process_asgi(lcphone):
    import asyncio
    assert asyncio.run(_in_process(lcphone)).status_code == 200
"""


def test_passing_client_tests_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CLIENT_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


BREAKING_TESTS = """
import pytest

ACTIVE = "/phone-system/numbers/location/{}"

def test_swallows_a_400(lcphone):
    response = lcphone.client.get(ACTIVE.format(lcphone.location_id), params={"pageSize": 5000})
    # a client that ignores errors would carry on here

def test_forgets_version(lcphone):
    lcphone.client.get(ACTIVE.format(lcphone.location_id), headers={"Version": ""})

def test_purchase_body_missing_a_field(lcphone):
    lcphone.client.post(ACTIVE.format(lcphone.location_id) + "/purchase", json={"phoneNumber": "+14155550100"})

def test_calls_an_endpoint_the_contract_does_not_have(lcphone):
    lcphone.client.get("/phone-system/numbers")

@pytest.mark.lcphone_allow_violations
def test_bad_on_purpose(lcphone):
    response = lcphone.client.get(ACTIVE.format(lcphone.location_id), params={"pageSize": 5000})
    assert response.status_code == 400
"""


def test_a_client_that_breaks_the_contract_is_caught(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BREAKING_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*test_swallows_a_400*",
            "*GET /phone-system/numbers/location/tDtDnQdgm2LXpyiqYvZ6?pageSize=5000 -> 400*",
            "*pageSize: 5000 is greater than the maximum of 1000*",
            "*contract: #/paths/~1phone-system~1numbers~1location~1{locationId}/get/parameters/1*",
        ]
    )
    result.stdout.fnmatch_lines(["*header Version*"])
    result.stdout.fnmatch_lines(["*skipLocationKYC: is required*"])
    result.stdout.fnmatch_lines(["*GET /phone-system/numbers -> 404*"])


def test_conformance_can_be_switched_off_for_a_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BREAKING_TESTS)
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lcphone-no-conformance").assert_outcomes(passed=5)
    pytester.makeini("[pytest]\nlcphone_conformance = false\n")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=5)


def test_each_test_starts_from_the_scenario(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest
"""
        + BUY_FIRST
        + """

@pytest.mark.parametrize("attempt", range(6))
def test_the_same_number_can_be_bought_in_every_test(lcphone, attempt):
    response = buy_first(lcphone)
    assert response.status_code == 201, response.text
    assert [e.operation_id for e in lcphone.journal] == ["searchAvailableNumbers", "purchaseNumber"]
"""
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=6)


def test_seeding_helpers_tokens_and_scenarios(pytester: pytest.Pytester, tmp_path) -> None:
    scenario = tmp_path / "other.yaml"
    scenario.write_text(
        "name: other\nlocations:\n  - id: otherLocation\n    tokens:\n      - value: pit-other-token-0001\n"
    )
    pytester.makepyfile(f"""
import pytest

def active(lcphone, location=None, token=None, **params):
    location = location or lcphone.location_id
    return lcphone.client.get(f"/phone-system/numbers/location/{{location}}", params=params,
                              headers={{"Authorization": f"Bearer {{token or lcphone.token}}"}})

def test_add_numbers_and_pools(lcphone):
    added = lcphone.add_numbers(3, country="GB", number_type="mobile")
    assert len(added) == 3 and all(n.startswith("+447") for n in added)
    assert active(lcphone).json()["data"]["total"] == 8
    lcphone.add_pool("Support", added)
    assert active(lcphone).json()["data"]["total"] == 5
    assert lcphone.add_number("+14155550123", origin="hosted") == "+14155550123"

def test_token_for_another_location_and_scopes(lcphone):
    token = lcphone.token_for("second-location")
    assert active(lcphone, "second-location", token).json()["data"]["total"] == 0
    assert active(lcphone, token=token).status_code == 403
    read_only = lcphone.token_for(lcphone.location_id, ["numberpools.read"])
    assert active(lcphone, token=read_only).status_code == 401

@pytest.mark.lcphone(scenario={str(scenario)!r})
def test_marker_scenario(lcphone):
    assert lcphone.location_id == "otherLocation" and lcphone.token == "pit-other-token-0001"
    assert active(lcphone).status_code == 200

def test_back_to_the_session_scenario(lcphone):
    assert lcphone.location_id == "tDtDnQdgm2LXpyiqYvZ6"

def test_load_scenario_as_a_dict(lcphone):
    lcphone.load_scenario({{"name": "inline", "locations": [{{"id": "inlineLoc", "numbers": [
        {{"draw": {{"countryCode": "AU", "numberType": "local", "count": 2}}}}]}}]}})
    assert lcphone.location_id == "inlineLoc"
    assert active(lcphone).json()["data"]["total"] == 2
""")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=5)


def test_seed_and_scenario_options(pytester: pytest.Pytester, tmp_path) -> None:
    pytester.makepyfile("""
def test_seed(lcphone):
    assert lcphone.sandbox.seed == 9
    assert lcphone.sandbox.scenario.name == "default"
""")
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lcphone-seed", "9").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nlcphone_seed = 9\n")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_works_under_xdist_with_no_shared_state(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
import os
import pathlib
import pytest

@pytest.mark.parametrize("n", range(8))
def test_each_worker_has_its_own_sandbox(lcphone_server, lcphone, n):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    out = pathlib.Path({str(pytester.path)!r}) / f"port-{{worker}}-{{n}}"
    out.write_text(lcphone_server.base_url)
    added = lcphone.add_numbers(2)
    total = lcphone.client.get(f"/phone-system/numbers/location/{{lcphone.location_id}}").json()["data"]["total"]
    assert total == 7
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=8)
    ports = {p.read_text() for p in pytester.path.glob("port-gw*")}
    workers = {p.name.split("-")[1] for p in pytester.path.glob("port-gw*")}
    assert len(workers) == 2 and len(ports) == 2


REMOTE_TESTS = (
    """
import pytest
"""
    + BUY_FIRST
    + """

def test_reads_work(lcphone):
    assert lcphone.remote
    response = lcphone.client.get(f"/phone-system/numbers/location/{lcphone.location_id}")
    assert response.status_code == 200

def test_purchase(lcphone):
    try:
        response = buy_first(lcphone)
    except Exception:
        return  # a client that swallows the refusal: the test must still fail
    assert response.status_code == 201

def test_state_changing_helpers_are_unavailable(lcphone):
    lcphone.add_numbers(1)

def test_client_side_conformance(lcphone):
    lcphone.client.get(f"/phone-system/numbers/location/{lcphone.location_id}", params={"page": "-1"})
"""
)


@pytest.fixture
def remote_api():
    """A sandbox in its own server thread, standing for a remote API."""
    with SandboxServer(Sandbox()) as server:
        yield server


def test_remote_mode_refuses_purchases_unless_allowed(pytester: pytest.Pytester, remote_api: SandboxServer) -> None:
    test_file = pytester.makepyfile(REMOTE_TESTS)
    args = [
        "-p",
        "no:cacheprovider",
        "--lcphone-base-url",
        remote_api.base_url,
        "--lcphone-token",
        "pit-acme-full-access-0000000001",
        "--lcphone-location",
        "tDtDnQdgm2LXpyiqYvZ6",
    ]
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(passed=1, failed=2, skipped=1)
    result.stdout.fnmatch_lines(
        ["*test_purchase*", "*tried to purchase on a remote target without --lcphone-allow-purchase*"]
    )
    result.stdout.fnmatch_lines(["*page: -1 is less than the minimum of 0*"])
    assert not [e for e in remote_api.sandbox.journal.entries() if e.operation_id == "purchaseNumber"]

    allowed = pytester.runpytest_inprocess(*args, "--lcphone-allow-purchase", f"{test_file}::test_purchase")
    allowed.assert_outcomes(passed=1)
    assert [e.status for e in remote_api.sandbox.journal.entries() if e.operation_id == "purchaseNumber"] == [201]


DRIFT_TESTS = """
import asyncio

import pytest

def test_lists_numbers(lcphone):
    assert lcphone.client.get(f"/phone-system/numbers/location/{lcphone.location_id}").status_code == 200

@pytest.mark.lcphone_allow_drift
def test_knows_the_drift(lcphone):
    assert lcphone.client.get(f"/phone-system/numbers/location/{lcphone.location_id}").status_code == 200

def test_async_client_is_checked_too(lcphone):
    async def ask():
        async with lcphone.async_client() as client:
            return await client.get(f"/phone-system/numbers/location/{lcphone.location_id}")

    assert asyncio.run(ask()).status_code == 200
"""


def test_remote_mode_fails_a_test_whose_answer_drifted_naming_the_drift(pytester: pytest.Pytester) -> None:
    with SandboxServer(Sandbox(drift=["legacy-names"])) as drifting:
        pytester.makepyfile(DRIFT_TESTS)
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "--lcphone-base-url", drifting.base_url,
            "--lcphone-token", "pit-acme-full-access-0000000001", "--lcphone-location", "tDtDnQdgm2LXpyiqYvZ6",
        )  # fmt: skip
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*the remote API answered 1 request(s) outside the contract:*",
        "*vendor drift: legacy field `isUnderGhl`: sent `isUnderGhl` instead of `isUnderLc`*",
        "*(ledger: answers.renamed-fields)*",
    ])  # fmt: skip
    assert "test_knows_the_drift PASSED" in result.stdout.str() or "1 passed" in result.stdout.str()


def test_remote_mode_takes_credentials_from_the_environment(
    pytester: pytest.Pytester, remote_api: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LCPHONE_BASE_URL", remote_api.base_url)
    monkeypatch.setenv("LCPHONE_TOKEN", "pit-acme-full-access-0000000001")
    monkeypatch.setenv("LCPHONE_LOCATION", "tDtDnQdgm2LXpyiqYvZ6")
    test_file = pytester.makepyfile(REMOTE_TESTS)
    pytester.runpytest_inprocess("-p", "no:cacheprovider", f"{test_file}::test_reads_work").assert_outcomes(passed=1)


def test_remote_mode_without_credentials_says_what_is_missing(pytester: pytest.Pytester) -> None:
    test_file = pytester.makepyfile(REMOTE_TESTS)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--lcphone-base-url", "http://127.0.0.1:9", f"{test_file}::test_reads_work"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs a token and a location id*"])


VERSIONED_TESTS = """
import pytest

SEARCH = "/phone-system/numbers/location/{}/available"

def test_a_legacy_search_needs_only_the_country(lcphone):
    client = lcphone.make_client(version="2021-07-28")
    assert client.get(SEARCH.format(lcphone.location_id), params={"countryCode": "US"}).status_code == 200

def test_the_same_search_at_v3_breaks_the_v3_contract(lcphone):
    response = lcphone.client.get(SEARCH.format(lcphone.location_id), params={"countryCode": "US"})
    assert response.status_code == 400  # swallowed: the test itself would pass

def test_an_unsupported_version_is_a_violation(lcphone):
    client = lcphone.make_client(headers={"Version": "2023-02-21"})
    client.get(f"/phone-system/numbers/location/{lcphone.location_id}")

def test_a_violation_is_kept_however_many_good_requests_follow(lcphone):
    journal = lcphone.sandbox.journal
    journal.capacity = 50  # the ring of 10,000 entries, made small: the same code, a fiftieth of the requests
    lcphone.client.get(f"/phone-system/numbers/location/{lcphone.location_id}", params={"pageSize": "0"})
    for _ in range(200):
        lcphone.client.get(f"/phone-system/number-pools", params={"locationId": lcphone.location_id})
    assert len(journal) == 50  # the bad request is out of the ring...
"""


def test_each_request_is_checked_against_the_contract_of_its_version(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(VERSIONED_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        ["*test_the_same_search_at_v3_breaks_the_v3_contract*", "*firstPart: is required [[]required[]]*"]
    )
    result.stdout.fnmatch_lines(["*not available in API version '2023-02-21'*"])
    result.stdout.fnmatch_lines(
        ["*test_a_violation_is_kept_however_many_good_requests_follow*", "*pageSize: 0 is less than the minimum of 1*"]
    )


@pytest.mark.parametrize("variable", ["LCPHONE_BASE_URL", "LCPHONE_TOKEN", "LCPHONE_LOCATION"])
def test_a_target_variable_set_but_empty_stops_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """A missing CI secret must not turn a run against staging into a quiet run against the sandbox."""
    monkeypatch.setenv(variable, "")
    pytester.makepyfile("def test_lists(lcphone):\n    assert not lcphone.remote\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*lcphone: {variable} is set but empty (a CI secret that is missing?)*"])
