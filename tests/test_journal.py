"""The journal under load and under tests that misbehave: bounded in bytes as well as entries, paged when it is
read, and each violation charged to the test that sent it."""

from __future__ import annotations

import tracemalloc

import httpx
import pytest

from helpers import LOCATION, auth
from mockserver.contract.requests import Violation
from mockserver.control.journal import MAX_BODY, MAX_QUERY, Journal

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _maximal(journal: Journal, count: int) -> None:
    """Requests as large as the journal keeps them, each breaking the contract twenty ways."""
    violations = [Violation(f"field{i}" + "f" * 200, "m" * 400, "#/" + "p" * 300, "type") for i in range(20)]
    body = ("b" * (MAX_BODY * 2)).encode()
    for n in range(count):
        journal.record("POST", "/p" * 400, "q" * (MAX_QUERY * 2), "purchaseNumber", 400, violations, "v3",
                       request=_details(body, n))  # fmt: skip


def _details(body: bytes, n: int):
    from mockserver.control.journal import RequestDetails

    return RequestDetails.bounded("t" * 500 + str(n), "v3", "application/json", body)


def test_what_breaks_the_contract_is_kept_apart_within_a_bound_in_bytes() -> None:
    journal = Journal()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    _maximal(journal, 3_000)
    held = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    # 3,000 maximal requests hold 55 MB unbounded (18k took 250 MB before the bound in bytes); bounded, 12 MB.
    assert held < 25 * 1024 * 1024, held
    kept = journal.violations_since(0)
    assert 0 < len(kept) < 3_000 and journal.violations_dropped == 3_000 - len(kept)
    assert sum(entry.size for entry in kept) <= journal.max_violation_bytes
    assert journal.dropped_since(0) == journal.violations_dropped
    assert journal.dropped_since(journal.last_sequence) == 0


def test_the_journal_is_read_a_page_at_a_time(sandbox, raw_http: httpx.Client) -> None:
    for page in range(1200):
        sandbox.journal.record("GET", f"/phone-system/numbers/location/{LOCATION}", f"page={page}",
                               "listActiveNumbers", 200, [], "v3")  # fmt: skip
    newest = raw_http.get("/__admin/journal").json()
    assert len(newest["requests"]) == 500 and newest["more"] is True and newest["next"] is None
    assert newest["requests"][-1]["sequence"] == newest["last"] == 1200
    seen, after = [], 0
    while True:
        page = raw_http.get("/__admin/journal", params={"after": after, "order": "oldest", "limit": 1000}).json()
        seen += [entry["sequence"] for entry in page["requests"]]
        if not page["more"]:
            break
        after = page["next"]
    assert seen == list(range(1, 1201))
    refused = raw_http.get("/__admin/journal", params={"limit": 5000})
    assert refused.status_code == 400 and "limit" in refused.json()["message"]


STRAY = """
import threading, time
import httpx
import pytest

ACTIVE = "/phone-system/numbers/location/{}"

def test_a_leaves_a_thread_running(lcphone_server, lcphone):
    url, headers = lcphone.base_url + ACTIVE.format(lcphone.location_id), lcphone.headers()
    def later():
        time.sleep(0.5)
        httpx.get(url, params={"pageSize": 5000}, headers=headers)  # outside the contract, after test_a ended
    threading.Thread(target=later, daemon=True).start()

def test_b_is_innocent(lcphone):
    time.sleep(1.5)  # the thread of test_a sends its request meanwhile
    assert lcphone.client.get(ACTIVE.format(lcphone.location_id)).status_code == 200
"""


def test_a_thread_another_test_left_running_does_not_fail_an_innocent_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(STRAY)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    output = result.stdout.str()
    assert "requests outside the contract from tests that had ended" in output
    assert "pageSize=5000 -> 400 (while " in output and "::test_b_is_innocent ran)" in output


DROPPED = """
import pytest

ACTIVE = "/phone-system/numbers/location/{}"

@pytest.fixture(scope="session", autouse=True)
def small_journal(lcphone_server):
    lcphone_server.sandbox.journal.violation_capacity = 5

@pytest.mark.lcphone_allow_violations
def test_first_breaks_it_ten_times(lcphone):
    for _ in range(10):
        lcphone.client.get(ACTIVE.format(lcphone.location_id), params={"pageSize": 5000})

def test_then_one_request_outside_the_contract(lcphone_server):
    import httpx
    from mockserver import SyncASGITransport
    client = httpx.Client(transport=SyncASGITransport(lcphone_server.app), base_url="http://sandbox")
    location, token = lcphone_server.default_credentials()
    client.get(ACTIVE.format(location), params={"pageSize": 5000},
               headers={"Authorization": "Bearer " + token, "Version": "v3"})
"""


def test_a_tests_report_counts_only_its_own_violations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(DROPPED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "the client sent 1 request(s) outside the contract" in output
    assert "more, not kept" not in output


def test_the_admin_api_journal_names_each_answers_outcome(raw_http: httpx.Client) -> None:
    raw_http.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth(), params={"page": 9})
    [entry] = raw_http.get("/__admin/journal").json()["requests"]
    assert entry["outcomes"] == ["page-past-the-end"] and entry["conforms"] is True


def test_a_401_says_whether_the_token_was_unknown_or_missing_and_where_the_tokens_are(raw_http) -> None:
    path = f"/phone-system/numbers/location/{LOCATION}"
    assert raw_http.get(path, headers=auth("pit-not-a-token-of-this-sandbox")).json()["message"] == "Invalid JWT"
    raw_http.get(path, headers={"Version": "v3"})
    raw_http.get(path, headers=auth())
    unknown, missing, known = raw_http.get("/__admin/journal", params={"showTokens": "true"}).json()["requests"]
    assert unknown["conforms"] and unknown["status"] == 401
    assert unknown["note"].startswith("unknown token: the sandbox knows no token pit-****")
    assert "not-a-token" not in unknown["note"] and "GET /__admin/locations" in unknown["note"]
    assert missing["note"].startswith("no token: send Authorization: Bearer <token>")
    assert "note" not in known
    tokens = raw_http.get("/__admin/locations").json()
    assert any(token for location in tokens["locations"] for token in location["tokens"])  # where the note points
