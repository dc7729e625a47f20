"""`lcphone verify` against a sandbox in another process standing for staging: clean, drifting, unreachable."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import httpx
import pytest

TOKEN = "pit-acme-full-access-0000000001"
LOCATION = "tDtDnQdgm2LXpyiqYvZ6"


def verify(base_url: str, *args: str, tmp_path=None, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mockserver.cli", "verify", "--base-url", base_url, "--generated", "3", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def credentials() -> list[str]:
    return ["--token", TOKEN, "--location", LOCATION]


def purchases(base_url: str) -> list[int]:
    journal = httpx.get(f"{base_url}/__admin/journal").json()["requests"]
    return [e["status"] for e in journal if e["operationId"] == "purchaseNumber"]


def test_a_conforming_target_exits_0_with_a_clean_report(serve, tmp_path) -> None:
    served = serve()
    report, junit = tmp_path / "report.md", tmp_path / "report.xml"
    result = verify(served.base_url, *credentials(), "--report", str(report), "--junit-xml", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conforms to the contract" in result.stdout
    assert "listActiveNumbers" in result.stdout and "searchAvailableNumbers" in result.stdout  # the summary table
    text = report.read_text()
    assert "**verdict:** conforms to the contract" in text and "## Drift" not in text
    assert "read-only run" in text
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= 3
    assert purchases(served.base_url) == []  # nothing bought without --allow-purchase
    assert TOKEN not in result.stdout + result.stderr + text + junit.read_text()


@pytest.mark.parametrize(
    ("drift", "extra_args", "named"),
    [
        ("legacy-names", [], "legacy field `isUnderGhl`"),
        ("no-envelope", [], "no v3 envelope"),
        ("wrong-types", [], "wrong type at `data/total`"),
        ("slow=400", ["--max-latency", "200", "--budget", "5"], "slow answers"),
        ("flaky-5xx", [], "undocumented status 503"),
        ("undocumented-status", ["--allow-purchase"], "undocumented status 200"),
        ("lax-validation", [], "not enforced: required parameter firstPart left out"),
        ("no-rate-limit-headers", [], "missing header `X-RateLimit-Remaining`"),
    ],
)
def test_each_drift_exits_1_and_is_named_in_the_report(serve, tmp_path, drift, extra_args, named) -> None:
    served = serve("--drift", drift)
    report, junit = tmp_path / "report.md", tmp_path / "report.xml"
    result = verify(served.base_url, *credentials(), "--report", str(report), "--junit-xml", str(junit), *extra_args)
    assert result.returncode == 1, result.stdout + result.stderr
    text = report.read_text()
    assert named in text and named in result.stdout
    assert "Bearer ****" in text and TOKEN not in text  # reproducing curl lines, token masked
    suite = ET.parse(junit).getroot()
    assert int(suite.get("failures")) >= 1
    assert any(named in (case.get("name") or "") for case in suite.iter("testcase"))


def test_each_drift_is_listed_once(serve, tmp_path) -> None:
    served = serve("--drift", "legacy-names")
    report = tmp_path / "report.md"
    verify(served.base_url, *credentials(), "--report", str(report))
    text = report.read_text()
    assert text.count("#### legacy field `isUnderGhl`") == 1
    assert "missing field" not in text  # the renamed field is one drift, not two


def test_extra_fields_are_noted_but_not_drift(serve, tmp_path) -> None:
    served = serve("--drift", "extra-fields")
    report = tmp_path / "report.md"
    result = verify(served.base_url, *credentials(), "--report", str(report))
    assert result.returncode == 0, result.stdout
    assert "## Notes (not drift)" in report.read_text() and "extra field `x_trace`" in report.read_text()


def test_an_unreachable_target_exits_2() -> None:
    result = verify("http://127.0.0.1:9", *credentials())
    assert result.returncode == 2
    assert "could not reach" in result.stdout


def test_a_refused_token_exits_2(serve) -> None:
    served = serve()
    result = verify(served.base_url, "--token", "not-a-token", "--location", LOCATION)
    assert result.returncode == 2
    assert "401" in result.stdout


def test_missing_credentials_exit_2_and_say_which() -> None:
    result = verify("http://127.0.0.1:9")
    assert result.returncode == 2 and "--token" in result.stderr and "--location" in result.stderr


def test_credentials_from_the_environment(serve) -> None:
    served = serve()
    import os

    env = {**os.environ, "LCPHONE_TOKEN": TOKEN, "LCPHONE_LOCATION": LOCATION}
    result = verify(served.base_url, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_purchases_only_when_allowed_and_at_most_max(serve) -> None:
    served = serve()
    result = verify(served.base_url, *credentials(), "--allow-purchase", "--max-purchases", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PURCHASES ALLOWED" in result.stderr and "BUY up to 2" in result.stderr
    assert purchases(served.base_url) == [201, 201]
    assert "purchased: +" in result.stdout


def test_a_zero_purchase_budget_buys_nothing(serve) -> None:
    served = serve()
    verify(served.base_url, *credentials(), "--allow-purchase", "--max-purchases", "0")
    assert purchases(served.base_url) == []


def test_the_nightly_workflow_runs_verify_read_only_from_secrets() -> None:
    import pathlib

    import yaml

    from mockserver.cli import build_parser

    workflow = yaml.safe_load((pathlib.Path(__file__).parents[1] / ".github/workflows/nightly-verify.yml").read_text())
    steps = workflow["jobs"]["verify"]["steps"]
    step = next(s for s in steps if "lcphone verify" in s.get("run", ""))
    assert set(step["env"]) == {"LCPHONE_BASE_URL", "LCPHONE_TOKEN", "LCPHONE_LOCATION"}
    assert all(value.startswith("${{ secrets.") for value in step["env"].values())
    arguments = step["run"].split()[1:]
    parsed = build_parser().parse_args(arguments)
    assert parsed.report and parsed.junit_xml and not parsed.allow_purchase
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "verify-report.md" in upload["with"]["path"] and upload["if"] == "always()"
