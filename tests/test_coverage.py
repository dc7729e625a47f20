"""Contract coverage of a client's tests: which of the API's outcomes a session received, in the terminal, as
JSON or Markdown, merged across pytest-xdist workers, as a threshold that fails a green session, and at
/__admin/coverage for a sandbox served to another language's tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from helpers import LOCATION, Api, auth
from mockserver.contract.coverage import CoverageReport
from mockserver.contract.outcomes import Classifier, outcomes

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
ROOT = Path(__file__).resolve().parents[1]

USER_TESTS = """
import pytest

ACTIVE = "/phone-system/numbers/location/{}"

def test_lists(lcphone):
    assert lcphone.client.get(ACTIVE.format(lcphone.location_id)).status_code == 200

def test_a_page_past_the_end(lcphone):
    answer = lcphone.client.get(ACTIVE.format(lcphone.location_id), params={"page": 99})
    assert answer.json()["data"]["numbers"] == []

def test_an_unavailable_service(lcphone):
    lcphone.fault("listNumberPools", status=503, times=1)
    answer = lcphone.client.get("/phone-system/number-pools", params={"locationId": lcphone.location_id})
    assert answer.status_code == 503

@pytest.mark.lcphone_allow_violations
def test_a_bad_page_size_on_purpose(lcphone):
    assert lcphone.client.get(ACTIVE.format(lcphone.location_id), params={"pageSize": 5000}).status_code == 400
"""


def _row(output: str, operation: str, version: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{operation} {version} "))


def test_the_table_shows_what_the_tests_received_and_what_they_never_did(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TESTS)
    # importlib: the suite itself may have imported examples/test_lcphone_client.py under the same module name.
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--import-mode=importlib", "--lcphone-coverage")
    result.assert_outcomes(passed=4)
    output = result.stdout.str()
    assert "lcphone contract coverage" in output
    listed = _row(output, "listActiveNumbers", "v3")
    missing = listed.split("/", 1)[1]
    assert "2/" in listed and "page-past-the-end" not in missing and "success" not in missing
    assert "invalid-request" in missing  # sent only on purpose: counted apart, not covered
    assert "server-error" not in _row(output, "listNumberPools", "v3").split("/", 1)[1]
    assert re.search(r"contract coverage: [0-9.]+% of \d+ outcomes", output)


def test_both_report_formats_and_the_json_fields(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(USER_TESTS)
    as_json, as_markdown = tmp_path / "coverage.json", tmp_path / "coverage.md"
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lcphone-coverage-report", str(as_json))
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lcphone-coverage-report", str(as_markdown))
    report = json.loads(as_json.read_text())
    assert set(report) >= {"percent", "outcomes"} and 0 < report["percent"] < 10
    fields = {"operation", "version", "status", "outcome", "covered", "hint"}
    assert all(fields <= set(outcome) for outcome in report["outcomes"])
    covered = {(o["operation"], o["version"], o["outcome"]) for o in report["outcomes"] if o["covered"]}
    assert covered == {
        ("listActiveNumbers", "v3", "success"),
        ("listActiveNumbers", "v3", "page-past-the-end"),
        ("listNumberPools", "v3", "server-error"),
    }
    on_purpose = [o for o in report["outcomes"] if o["onPurposeOnly"]]
    assert [(o["operation"], o["outcome"]) for o in on_purpose] == [("listActiveNumbers", "invalid-request")]
    sold = next(o for o in report["outcomes"] if o["outcome"] == "sold" and o["version"] == "v3")
    assert sold["status"] == "400" and "new fingerprintId" in sold["hint"] and not sold["covered"]
    markdown = as_markdown.read_text()
    assert f"**Contract coverage: {report['percent']:g}%**" in markdown
    assert "| listActiveNumbers | v3 | 2/" in markdown and "| purchaseNumber v3 sold |" in markdown


def test_under_xdist_the_workers_coverage_is_merged(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(USER_TESTS)
    alone, split = tmp_path / "alone.json", tmp_path / "split.json"
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lcphone-coverage-report", str(alone))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--lcphone-coverage-report", str(split))
    result.assert_outcomes(passed=4)
    assert json.loads(split.read_text()) == json.loads(alone.read_text())


def test_a_threshold_fails_an_otherwise_green_session_saying_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lcphone-coverage-fail-under", "50")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "is under --lcphone-coverage-fail-under 50%" in result.stdout.str()
    met = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lcphone-coverage-fail-under", "1")
    assert met.ret == pytest.ExitCode.OK


def test_ini_settings_and_bad_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TESTS)
    pytester.makeini("[pytest]\nlcphone_coverage = true\nlcphone_coverage_fail_under = 99\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED and "lcphone contract coverage" in result.stdout.str()
    bad = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lcphone-coverage-report", "coverage.txt")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "name a .json or a .md file" in bad.stderr.str()


def test_the_outcomes_come_from_the_contract_and_the_ledger() -> None:
    catalogue = outcomes()
    purchase = {k.outcome: k for k in catalogue.of("purchaseNumber", "v3")}
    assert purchase["success"].status == "201"
    assert {"sold", "fingerprint-reused", "replayed", "not-in-inventory", "no-phone-system", "rate-limited"} <= set(
        purchase
    )
    assert purchase["sold"].behaviour == "purchase.sold-once"
    pools = {k.outcome for k in catalogue.of("listNumberPools", "v3")}
    assert "no-phone-system" not in pools  # the contract documents no 404 for number pools
    assert "page-past-the-end" in {k.outcome for k in catalogue.of("listActiveNumbers", "2021-07-28")}


def test_an_answer_is_named_by_what_it_says_and_a_replay_by_what_came_before() -> None:
    classify = Classifier().classify
    assert classify("purchaseNumber", "v3", 400, {"message": "Phone number is no longer available"}) == ("sold",)
    assert classify("purchaseNumber", "v3", 400, {"message": "pageSize: 5000 is greater"}) == ("invalid-request",)
    bought = {"fingerprintId": "f-1"}
    assert classify("purchaseNumber", "v3", 201, {}, body=bought, location="L") == ("success",)
    assert classify("purchaseNumber", "v3", 201, {}, body=bought, location="L") == ("replayed",)
    assert classify("purchaseNumber", "v3", 201, {}, body=bought, location="M") == ("success",)
    assert classify("listActiveNumbers", "v3", 503, {}, faults=["status"]) == ("server-error",)
    assert classify("listActiveNumbers", "v3", 200, {"data": {"numbers": [{}]}}, faults=["latency"]) == (
        "success",
        "slow-answer",
    )
    assert classify("searchAvailableNumbers", "2021-07-28", 200, {"numbers": []}) == ("no-match",)
    assert classify("listActiveNumbers", "v3", None, faults=["drop"]) == ("dropped-connection",)


def test_the_admin_api_shows_the_coverage_of_the_journal(sandbox, raw_http: httpx.Client) -> None:
    api = Api(raw_http)
    before = raw_http.get("/__admin/coverage").json()
    assert before["percent"] == 0 and before["covered"] == 0 and before["total"] == len(outcomes().known)
    api.active(page=99)
    api.active(token="not-a-token")
    _, bought = api.buy_first()
    raw_http.post(f"/phone-system/numbers/location/{LOCATION}/purchase", json=json.loads(bought.request.content),
                  headers=auth())  # fmt: skip
    report = raw_http.get("/__admin/coverage").json()
    covered = {(o["operation"], o["outcome"]) for o in report["outcomes"] if o["covered"] and o["version"] == "v3"}
    assert covered >= {
        ("listActiveNumbers", "page-past-the-end"),
        ("listActiveNumbers", "unauthorized"),
        ("searchAvailableNumbers", "success"),
        ("purchaseNumber", "success"),
        ("purchaseNumber", "replayed"),
    }
    assert report["percent"] == CoverageReport.of_journal(sandbox.journal.entries()).percent > 0
    entry = raw_http.get("/__admin/journal", params={"limit": 1}).json()["requests"][0]
    assert entry["outcomes"] == ["replayed"]


def test_the_examples_coverage_table_is_the_readmes(pytester: pytest.Pytester) -> None:
    for name in ("lcphone_client.py", "test_lcphone_client.py"):
        pytester.makepyfile(**{name[:-3]: (ROOT / "examples" / name).read_text()})
    # importlib: the suite itself may have imported examples/test_lcphone_client.py under the same module name.
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--import-mode=importlib", "--lcphone-coverage")
    result.assert_outcomes(passed=8)
    lines = result.stdout.str().split("lcphone contract coverage =")[1].splitlines()[1:]
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("contract coverage:")) + 1]
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- coverage of examples/ -->")[1].split("```")[3].strip().splitlines()
    assert shown == table, "\n".join(table)
