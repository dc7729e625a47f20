"""`lcphone verify` against sandboxes that stand for staging: clean, drifting in every known way, set up wrong.

Driven in-process through the command's `transport=` hook (the same code path as the command line, without a
socket); one subprocess run per exit code shows the installed command behaves the same.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from helpers import LOCATION, POOLS_ONLY_TOKEN, TOKEN, UK_LOCATION, UK_TOKEN
from mockserver import Sandbox
from mockserver.cli import build_parser
from mockserver.contract.behaviours import ledger
from mockserver.http.transport import SyncASGITransport
from mockserver.verify.command import run


class Run:
    def __init__(self, code: int, out: str, err: str, report: str, junit: ET.Element | None) -> None:
        self.code, self.out, self.err, self.report, self.junit = code, out, err, report, junit


@pytest.fixture
def verify(tmp_path: Path, capsys: pytest.CaptureFixture):
    def call(
        sandbox: Sandbox | None,
        *args: str,
        token: str = TOKEN,
        location: str = LOCATION,
        transport: httpx.BaseTransport | None = None,
    ) -> Run:
        report, junit = tmp_path / "report.md", tmp_path / "report.xml"
        parsed = build_parser().parse_args(
            [
                "verify",
                "--base-url",
                "http://staging.example",
                "--token",
                token,
                "--location",
                location,
                "--generated",
                "2",
                "--report",
                str(report),
                "--junit-xml",
                str(junit),
                *args,
            ]
        )
        code = run(parsed, transport=transport or SyncASGITransport(sandbox.app))
        captured = capsys.readouterr()
        return Run(
            code,
            captured.out,
            captured.err,
            report.read_text() if report.exists() else "",
            ET.parse(junit).getroot() if junit.exists() else None,
        )

    return call


def purchases(sandbox: Sandbox) -> list[int]:
    return [e.status for e in sandbox.journal.entries() if e.operation_id == "purchaseNumber" and e.status < 300]


def test_a_conforming_target_exits_0_with_a_report_of_both_versions(verify) -> None:
    sandbox = Sandbox()
    result = verify(sandbox)
    assert result.code == 0, result.out + result.err
    assert "lcphone verify: conforms to the contract" in result.out
    assert "Version v3" in result.out and "Version 2021-07-28" in result.out  # each version reported apart
    report = result.report
    assert "**verdict:** conforms to the contract" in report and "### Drift" not in report
    assert "## Version v3" in report and "## Version 2021-07-28" in report
    # A read-only run says what it left out: the successful purchase, at each version.
    assert (
        "| v3 | purchaseNumber | a successful purchase (201 answer) | read-only run (--allow-purchase not given) |"
        in report
    )
    assert "| 2021-07-28 | purchaseNumber | a successful purchase (201 answer) | read-only run" in report
    assert "| comma | accepts it | 200 |" in report and "| brackets | accepts it | 200 |" in report
    suite = result.junit
    assert suite.get("failures") == "0" and int(suite.get("skipped")) >= 2
    skipped = [c.get("name") for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert "not checked: a successful purchase (201 answer)" in skipped
    assert purchases(sandbox) == []  # nothing bought without --allow-purchase
    # Auth was probed on every operation of both versions, and refused.
    auth = {(e.version, e.operation_id) for e in sandbox.journal.entries() if e.status == 401}
    assert len(auth) == 8
    assert TOKEN not in result.out + result.err + report + ET.tostring(suite, encoding="unicode")


DRIFTS = [
    ("legacy-names", [], "legacy field `isUnderGhl`"),
    ("no-envelope", [], "no v3 envelope"),
    ("wrong-types", [], "wrong type at `data/pageSize`"),
    ("lax-validation", [], "not enforced: required parameter"),
    ("no-rate-limit-headers", [], "missing header `X-RateLimit-Remaining`"),
    ("flaky-5xx", [], "undocumented status 503"),
    ("slow=15", ["--max-latency", "5", "--api-version", "v3"], "slow answers"),
    ("undocumented-status", ["--allow-purchase"], "undocumented status 200"),
    ("double-sell", ["--allow-purchase", "--max-purchases", "3"], "a sold number was sold again"),
    ("legacy-purchase", ["--allow-purchase"], "legacy field `under_ghl_account`"),
    ("no-auth", [], "not enforced: auth: no token"),
    ("any-location", ["--other-location", UK_LOCATION], "not enforced: auth: another location's"),
    (
        "no-scopes",
        ["--limited-token", POOLS_ONLY_TOKEN, "--limited-token-scopes", "numberpools.read"],
        "not enforced: auth: a token without the scope",
    ),
    # The behaviours of the fidelity ledger: answers of the right shape that mean something else.
    ("ignores-first-part", [], "numbers do not: +1"),
    ("ignores-last-part", [], "search.last-part"),
    ("ignores-anywhere", [], "search.anywhere"),
    ("ignores-capabilities", [], "search.capabilities"),
    ("ignores-country-code", [], "search.country"),
    ("ignores-number-types", [], "search.number-types"),
    ("ignores-page", [], "active.pages"),
    ("ignores-page-size", [], "active.page-size"),
    ("ignores-skip-number-pool", [], "active.skip-number-pool"),
    ("search-filter-digits-only", [], "active.search-filter"),
    ("ignores-first-part", [], "(each must begin with 415, can send SMS and be local)"),
    ("wrong-total", [], "active.total"),
    ("envelope-status-code", [], "wrong type at `statusCode`"),
    ("bare-errors", [], "not sent: `statusCode`"),
    ("vague-errors", [], "the refusal does not name"),
    ("static-rate-limit-headers", [], "answers.rate-limit-arithmetic"),
    ("no-idempotency", ["--allow-purchase", "--max-purchases", "2"], "purchase.idempotent-replay"),
]


@pytest.mark.parametrize(("drift", "args", "named"), DRIFTS, ids=[d[0] for d in DRIFTS])
def test_every_drift_mode_is_caught(verify, drift: str, args: list[str], named: str) -> None:
    result = verify(Sandbox(drift=[drift]), *args)
    assert result.code == 1, result.out + result.err
    assert named in result.out, result.out
    assert named in result.report and "curl" in result.report
    assert int(result.junit.get("failures")) >= 1
    # Each finding names the ledger entry it breaks; the mode's own entry is among them.
    broken = [behaviour.id for behaviour in ledger().broken_by(drift.split("=")[0])]
    assert broken and any(f"ledger: {entry}" in result.out for entry in broken), (broken, result.out)


HARMLESS = ["extra-fields", "shuffled-keys"]  # what clients must cope with anyway


@pytest.mark.parametrize("drift", HARMLESS)
def test_what_clients_must_ignore_is_not_drift(verify, drift: str) -> None:
    result = verify(Sandbox(drift=[drift]))
    assert result.code == 0, result.out
    if drift == "extra-fields":
        assert "extra field `data/x_trace`" in result.out and "## Notes (not drift)" in result.report


def test_the_checks_of_a_clean_sandbox_that_every_mode_needs_pass(verify) -> None:
    # The options the drift modes need find nothing on a sandbox that does not drift.
    result = verify(
        Sandbox(),
        "--allow-purchase",
        "--max-purchases",
        "2",
        "--other-location",
        UK_LOCATION,
        "--limited-token",
        POOLS_ONLY_TOKEN,
        "--limited-token-scopes",
        "numberpools.read",
    )
    assert result.code == 0, result.out + result.err
    assert "purchased:" in result.out and "again" not in result.out.split("purchased:")[1]
    assert "a successful purchase" not in result.report  # nothing left unchecked there


def test_a_token_of_another_location_cannot_run(verify) -> None:
    result = verify(Sandbox(), token=UK_TOKEN)
    assert result.code == 2
    [line] = [line for line in result.err.splitlines() if line.startswith("lcphone verify: could not run")]
    assert "does not reach location tDtDnQdgm2LXpyiqYvZ6" in line and "403" in line and "pit-****" in line
    assert "DRIFT" not in result.out


def test_a_token_without_the_read_scopes_is_exit_2_unless_skipped_on_purpose(verify) -> None:
    result = verify(Sandbox(), token=POOLS_ONLY_TOKEN)
    assert result.code == 2, result.out
    assert "lacks scope phonenumbers.read" in result.err and "searchAvailableNumbers" in result.err
    assert "| v3 | listActiveNumbers | example request | the token lacks scope phonenumbers.read |" in result.report
    skipped = verify(
        Sandbox(),
        "--skip-operation",
        "searchAvailableNumbers",
        "--skip-operation",
        "listActiveNumbers",
        "--skip-operation",
        "purchaseNumber",
        token=POOLS_ONLY_TOKEN,
    )
    assert skipped.code == 0, skipped.out + skipped.err
    assert "skipped on purpose (--skip-operation)" in skipped.report


def test_a_token_without_any_scope_or_unknown_cannot_run(verify) -> None:
    sandbox = Sandbox()
    scopeless = sandbox.mint_token(LOCATION, []).value
    for token in (scopeless, "not-a-token"):
        result = verify(sandbox, token=token)
        assert result.code == 2
        assert "every check answered 401" in result.err


def test_an_unreachable_target_cannot_run(verify) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    result = verify(None, transport=httpx.MockTransport(refuse))
    assert result.code == 2 and "could not reach http://staging.example" in result.err


def test_a_form_of_number_types_the_target_refuses_is_drift(verify) -> None:
    sandbox = Sandbox()
    inner = SyncASGITransport(sandbox.app)

    class NoBrackets(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if "numberTypes%5B%5D" in str(request.url):
                return httpx.Response(
                    400,
                    json={"statusCode": 400, "message": "numberTypes must be a string", "error": "Bad Request"},
                    headers={"X-RateLimit-Remaining": "1"},
                )
            return inner.handle_request(request)

    result = verify(None, transport=NoBrackets())
    assert result.code == 1
    assert "wire form refused: brackets" in result.out and "| brackets | refuses it | 400 |" in result.report


def test_an_unwritable_report_is_found_before_the_first_request(tmp_path: Path, capsys) -> None:
    sandbox = Sandbox()
    for option in ("--report", "--junit-xml"):
        parsed = build_parser().parse_args(
            [
                "verify",
                "--base-url",
                "http://x",
                "--token",
                TOKEN,
                "--location",
                LOCATION,
                option,
                str(tmp_path / "nodir" / "r.md"),
            ]
        )
        assert run(parsed, transport=SyncASGITransport(sandbox.app)) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"lcphone verify: could not run: {option}") and "does not exist" in line
    assert sandbox.journal.entries() == []


def test_its_own_failure_is_never_drift(verify, monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver.verify import runner

    def broken(self, version):
        raise KeyError("a bug in verify")

    monkeypatch.setattr(runner.Verifier, "plan", broken)
    result = verify(Sandbox())
    assert result.code == 2
    assert (
        result.err.strip().splitlines()[-1]
        == "lcphone verify: could not run: internal error: KeyError: 'a bug in verify'"
    )


def test_missing_settings_say_which(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LCPHONE_BASE_URL", "LCPHONE_TOKEN", "LCPHONE_LOCATION"):
        monkeypatch.delenv(name, raising=False)
    assert run(build_parser().parse_args(["verify", "--base-url", "http://x"])) == 2
    assert "missing --token, --location" in capsys.readouterr().err


def test_a_target_variable_set_but_empty_is_an_error_and_the_reports_say_why(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly job with a missing secret: exit 2, and the reports it keeps say why nothing was checked."""
    monkeypatch.setenv("LCPHONE_BASE_URL", "")
    monkeypatch.setenv("LCPHONE_TOKEN", TOKEN)
    monkeypatch.setenv("LCPHONE_LOCATION", LOCATION)
    report, junit = tmp_path / "verify-report.md", tmp_path / "verify-report.xml"
    parsed = build_parser().parse_args(["verify", "--report", str(report), "--junit-xml", str(junit)])
    assert run(parsed) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "lcphone verify: could not run: LCPHONE_BASE_URL is set but empty (a CI secret that is missing?): "
        "give each a value, or unset it and pass the option"
    )
    assert "**verdict:** could not run: LCPHONE_BASE_URL is set but empty" in report.read_text()
    suite = ET.parse(junit).getroot()
    assert suite.get("errors") == "1" and "LCPHONE_BASE_URL is set but empty" in ET.tostring(suite, "unicode")


def test_one_version_only(verify) -> None:
    result = verify(Sandbox(), "--api-version", "2021-07-28")
    assert result.code == 0
    assert "## Version 2021-07-28" in result.report and "## Version v3" not in result.report


def test_max_purchases_is_the_most_a_whole_run_buys_across_versions(verify) -> None:
    sandbox = Sandbox()
    result = verify(sandbox, "--allow-purchase")  # --max-purchases 1, the default
    assert result.code == 0, result.out
    assert purchases(sandbox) == [201]  # one number, at the first version only
    assert "purchased: +1" in result.out and "(v3): bought" in result.out and "(2021-07-28)" not in result.out
    assert "| 2021-07-28 | purchaseNumber | behaviour purchase.listed | no purchase left" in result.report
    assert "| v3 | purchaseNumber | behaviour purchase.idempotent-replay | needs --max-purchases 2" in result.report


def test_enough_purchases_check_every_purchase_behaviour_at_each_version(verify) -> None:
    sandbox = Sandbox()
    result = verify(sandbox, "--allow-purchase", "--max-purchases", "8")
    assert result.code == 0, result.out
    # At each version: the purchase and its replay (which answers the first one again); the sold number again
    # and another number with the first fingerprint were refused, so they bought nothing.
    bought = result.out.split("purchased: ")[1].splitlines()[0].split("; ")
    assert [entry.split(": ")[1] for entry in bought] == ["bought", "replayed"] * 2, bought
    assert "(v3)" in result.out and "(2021-07-28)" in result.out
    checked = ("listed", "idempotent-replay", "sold-once", "fingerprint-reused")
    assert not any(f"behaviour purchase.{name} " in result.report for name in checked)  # each checked, and held
    assert purchases(sandbox) == [201] * 4


# -- the installed command, one run per exit code ----------------------------------------------------------


def command(base_url: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mockserver.cli",
            "verify",
            "--base-url",
            base_url,
            "--generated",
            "1",
            "--token",
            TOKEN,
            "--location",
            LOCATION,
            "--report",
            str(tmp_path / "r.md"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_exits_0_1_and_2(serve, tmp_path: Path) -> None:
    clean = command(serve().base_url, tmp_path=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    drifting = command(serve("--drift", "legacy-names").base_url, tmp_path=tmp_path)
    assert drifting.returncode == 1 and "legacy field `isUnderGhl`" in drifting.stdout
    unreachable = command("http://127.0.0.1:9", tmp_path=tmp_path)
    assert unreachable.returncode == 2 and "could not reach" in unreachable.stderr
