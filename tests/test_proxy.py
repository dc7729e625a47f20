"""`lcphone proxy` in front of a second `lcphone serve` standing in for staging, clean and drifting on purpose:
answers pass unchanged, both sides of each exchange are judged, purchases are gated, a recording is served
back, the reports and the exit code say what happened, and no token is ever written.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from helpers import LEGACY, LOCATION, SEARCH_DEFAULTS, TOKEN, V3, auth, purchase_body
from mockserver.cli import main
from mockserver.domain.scenario import Scenario
from mockserver.serve.process import ServeProcess

VENDOR_HEADERS = ("content-type", "x-ratelimit-max", "x-ratelimit-interval-milliseconds", "x-ratelimit-limit-daily")


@pytest.fixture(scope="module")
def staging() -> Iterator[ServeProcess]:
    """A clean sandbox standing for the vendor's staging."""
    with ServeProcess() as process:
        yield process


@pytest.fixture(scope="module")
def drifting() -> Iterator[ServeProcess]:
    """A staging that drifts: v3 answers carry the legacy name, searches ignore firstPart, refusals are vague."""
    with ServeProcess("--drift", "legacy-names", "--drift", "ignores-first-part", "--drift", "vague-errors") as process:
        yield process


@pytest.fixture
def proxy() -> Iterator[Callable[..., ServeProcess]]:
    started: list[ServeProcess] = []

    def start(target: ServeProcess | str, *args: str) -> ServeProcess:
        url = target if isinstance(target, str) else target.base_url
        started.append(ServeProcess("--target", url, *args, command="proxy"))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.process.communicate()


def requests_of_every_operation(base: str) -> list[httpx.Response]:
    """The four operations at both versions (no purchase), as a client sends them."""
    answers = []
    with httpx.Client(base_url=base) as client:
        for version in (V3, LEGACY):
            answers.append(
                client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth(version=version))
            )
            answers.append(
                client.get(
                    f"/phone-system/numbers/location/{LOCATION}/available",
                    params={**SEARCH_DEFAULTS, "firstPart": "415"},
                    headers=auth(version=version),
                )
            )
            answers.append(
                client.get(
                    f"/phone-system/numbers/location/{LOCATION}", params={"pageSize": 3}, headers=auth(version=version)
                )
            )
    return answers


def journal(base: str, **params) -> list[dict]:
    return httpx.get(f"{base}/__admin/journal", params=params).json()["requests"]


def test_clean_traffic_passes_unchanged_and_the_run_exits_0(staging, proxy, tmp_path: Path) -> None:
    report, junit = tmp_path / "proxy.md", tmp_path / "proxy.xml"
    running = proxy(staging, "--report", str(report), "--junit-xml", str(junit))
    through, direct = requests_of_every_operation(running.base_url), requests_of_every_operation(staging.base_url)
    for proxied, straight in zip(through, direct, strict=True):
        assert proxied.status_code == straight.status_code == 200
        if b"fingerprintId" in straight.content:  # a new one for every search: the rest is the same
            fingerprint = straight.json()["fingerprintId"].encode()
            assert proxied.content.replace(proxied.json()["fingerprintId"].encode(), fingerprint) == straight.content
        else:
            assert proxied.content == straight.content  # the same bytes
        for name in VENDOR_HEADERS:
            assert proxied.headers[name] == straight.headers[name]
        assert "date" in proxied.headers and "server" not in proxied.headers  # the target's, none added
    entries = journal(running.base_url)
    assert len(entries) == 6
    assert all(e["conforms"] and e["answer"] == {"conforms": True, "problems": []} for e in entries)
    assert {e["version"] for e in entries} == {V3, LEGACY}
    code, out, err = running.stop()
    assert code == 0, out + err
    assert "every exchange kept the contract on both sides (6 exchanges)" in out
    assert "every exchange kept the contract" in report.read_text()
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests", "0")) == 6  # each version and operation


def test_a_malformed_request_is_forwarded_flagged_and_fails_the_run(staging, proxy, tmp_path: Path) -> None:
    report = tmp_path / "proxy.md"
    running = proxy(staging, "--report", str(report))
    answer = httpx.get(
        f"{running.base_url}/phone-system/numbers/location/{LOCATION}", params={"pageSize": 5000}, headers=auth()
    )
    assert answer.status_code == 400 and "pageSize" in answer.json()["message"]  # staging's own refusal
    seen = [e for e in journal(staging.base_url, limit=20) if "pageSize=5000" in e["query"]]
    assert seen, "the proxy must forward a request that breaks the contract"
    (entry,) = journal(running.base_url)
    assert not entry["conforms"] and entry["violations"][0]["field"] == "pageSize"
    assert entry["answer"]["conforms"]  # staging refused it as the contract says: its side is right
    code, out, _ = running.stop()
    assert code == 1
    assert "CLIENT v3 listActiveNumbers: pageSize: 5000 is greater than the maximum of 1000" in out
    text = report.read_text()
    assert "## The client's requests (1)" in text and "pageSize=5000" in text


def test_a_drifting_answer_is_flagged_with_its_verdict_and_fails_the_run(drifting, proxy, tmp_path: Path) -> None:
    report, junit = tmp_path / "proxy.md", tmp_path / "proxy.xml"
    running = proxy(drifting, "--report", str(report), "--junit-xml", str(junit))
    base = running.base_url
    listed = httpx.get(f"{base}/phone-system/numbers/location/{LOCATION}", headers=auth())
    assert "isUnderGhl" in listed.json()["data"]  # passed on as the target sent it
    httpx.get(
        f"{base}/phone-system/numbers/location/{LOCATION}/available",
        params={**SEARCH_DEFAULTS, "firstPart": "415"},
        headers=auth(),
    )
    httpx.get(f"{base}/phone-system/numbers/location/{LOCATION}", params={"pageSize": 5000}, headers=auth())
    entries = {e["query"] or "list": e for e in journal(base)}
    drift = entries["list"]["answer"]
    assert not drift["conforms"]
    assert {(p["verdict"], p["ledger"]) for p in drift["problems"]} == {("vendor drift", "answers.renamed-fields")}
    search = next(e for q, e in entries.items() if "firstPart=415" in q)
    assert [p["ledger"] for p in search["answer"]["problems"]] == ["search.first-part"]
    assert search["answer"]["problems"][0]["verdict"] == "fidelity gap"
    vague = entries["pageSize=5000"]["answer"]["problems"]
    assert [(p["verdict"], p["ledger"]) for p in vague] == [("fidelity gap", "requests.refusal-names-the-problem")]
    code, out, _ = running.stop()
    assert code == 1
    assert "VENDOR DRIFT v3 listActiveNumbers: legacy field `isUnderGhl`" in out
    assert "FIDELITY GAP v3 searchAvailableNumbers: search.first-part" in out
    text = report.read_text()
    assert "## Vendor drift (1)" in text and "## Fidelity gap (2)" in text
    # Beside a fidelity gap, what lcphone's sandbox answers to the same request.
    assert "lcphone's sandbox:** answers 400: " in text and "pageSize" in text
    failures = [case.find("failure") for case in ET.parse(junit).getroot()]
    assert sum(f is not None for f in failures) == 4  # the client's pageSize, and three of the target's


def test_purchases_are_refused_without_the_flag_and_sent_with_it(staging, proxy) -> None:
    def buy(base: str) -> httpx.Response:
        with httpx.Client(base_url=base) as client:
            search = client.get(
                f"/phone-system/numbers/location/{LOCATION}/available", params=SEARCH_DEFAULTS, headers=auth()
            ).json()
            body = purchase_body(search["numbers"][0], search["fingerprintId"])
            return client.post(f"/phone-system/numbers/location/{LOCATION}/purchase", json=body, headers=auth())

    purchases = lambda: [e for e in journal(staging.base_url, limit=1000) if e["operationId"] == "purchaseNumber"]
    before = len(purchases())
    refusing = proxy(staging)
    refused = buy(refusing.base_url)
    assert refused.status_code == 403 and "--allow-purchase" in refused.json()["message"]
    assert refused.json()["error"] == "Forbidden" and refused.headers["x-lcphone-proxy"] == "purchase-refused"
    assert len(purchases()) == before  # never sent
    assert refusing.stop()[0] == 0  # a refusal is the proxy's doing, not a problem of either side

    allowing = proxy(staging, "--allow-purchase", "--max-purchases", "1")
    assert buy(allowing.base_url).status_code == 201
    second = buy(allowing.base_url)
    assert second.status_code == 403 and "--max-purchases 1" in second.json()["message"]
    assert len(purchases()) == before + 1
    health = httpx.get(f"{allowing.base_url}/__admin/health").json()
    assert health["purchases"] == {"allowed": True, "sent": 1, "refused": 1, "max": 1}


def test_a_recorded_account_is_served_back_with_the_same_list(staging, proxy, serve, tmp_path: Path) -> None:
    recording = tmp_path / "staging.yaml"
    running = proxy(staging, "--record", str(recording))
    listing = {"skipNumberPool": "false", "pageSize": 1000}

    def read(base: str, token: str) -> dict:
        with httpx.Client(base_url=base) as client:
            return {
                version: (
                    client.get(
                        f"/phone-system/numbers/location/{LOCATION}", params=listing, headers=auth(token, version)
                    ).json(),
                    client.get(
                        "/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth(token, version)
                    ).json(),
                )
                for version in (V3, LEGACY)
            }

    seen = read(running.base_url, TOKEN)
    code, out, _ = running.stop()
    assert code == 0 and f"serve it with: lcphone serve --scenario {recording}" in out
    scenario = Scenario.from_file(recording)  # valid against the scenario schema
    assert TOKEN not in recording.read_text() and "tokens" not in recording.read_text()
    assert [loc["id"] for loc in scenario.locations] == [LOCATION]
    served = serve("--scenario", str(recording))
    assert served.value("location id") == LOCATION
    assert read(served.base_url, served.value("token")) == seen  # the same numbers, ids and pools


def test_an_unreachable_target_exits_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["proxy", "--target", "http://127.0.0.1:9", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lcphone proxy: the target http://127.0.0.1:9 is not reachable: ConnectError")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--target", "ftp://staging.example"], "expected an http:// or https:// URL"),
        (["--target", ""], "--target (or LCPHONE_TARGET) is empty"),
        ([], "--target is required"),
        (["--target", "http://127.0.0.1:9", "--report", "/no/such/folder/r.md"], "the folder /no/such/folder"),
    ],
)
def test_options_it_cannot_run_with_are_one_line_exit_2(args, says, monkeypatch, capsys) -> None:
    monkeypatch.delenv("LCPHONE_TARGET", raising=False)
    assert main(["proxy", *args]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_the_token_is_in_no_report_no_log_and_no_journal_unless_asked(drifting, proxy, tmp_path: Path) -> None:
    report, junit, recording = tmp_path / "r.md", tmp_path / "r.xml", tmp_path / "rec.yaml"
    running = proxy(
        drifting, "--report", str(report), "--junit-xml", str(junit), "--record", str(recording), "--access-log"
    )
    requests_of_every_operation(running.base_url)
    httpx.get(f"{running.base_url}/phone-system/numbers/location/{LOCATION}", params={"pageSize": 5000}, headers=auth())
    masked = httpx.get(f"{running.base_url}/__admin/journal").text
    shown = httpx.get(f"{running.base_url}/__admin/journal", params={"showTokens": "true"}).text
    code, out, err = running.stop()
    assert code == 1
    assert TOKEN not in masked and TOKEN in shown
    for text in (out, err, report.read_text(), junit.read_text(), recording.read_text()):
        assert TOKEN not in text
    assert "Bearer ****" in report.read_text()


def test_the_admin_surface_shows_both_verdicts(drifting, proxy) -> None:
    running = proxy(drifting)
    base = running.base_url
    assert f"base URL     {base}" in "\n".join(running.banner)
    assert f"target       {drifting.base_url}" in "\n".join(running.banner)
    httpx.get(f"{base}/phone-system/numbers/location/{LOCATION}", headers=auth())
    health = httpx.get(f"{base}/__admin/health").json()
    assert health["status"] == "ok" and health["mode"] == "proxy" and health["target"] == drifting.base_url
    broken = httpx.get(f"{base}/__admin/journal", params={"violations": "true"}).json()["requests"]
    assert len(broken) == 1 and broken[0]["conforms"] and not broken[0]["answer"]["conforms"]
    coverage = httpx.get(f"{base}/__admin/coverage").json()
    assert any(o["covered"] and o["operation"] == "listActiveNumbers" for o in coverage["outcomes"])
    page = httpx.get(f"{base}/__admin/ui")
    assert page.status_code == 200 and "lcphone proxy" in page.text and drifting.base_url in page.text
    assert httpx.delete(f"{base}/__admin/journal").status_code == 200 and not journal(base)
