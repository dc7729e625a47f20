"""The packaged property suites: runnable against a URL exactly as against staging, and able to catch a broken API."""

from __future__ import annotations

import httpx
import pytest

SMALL_BUDGET = {
    "LCPHONE_SUITE_EXAMPLES": "4",
    "LCPHONE_MODEL_EXAMPLES": "10",
    "LCPHONE_MODEL_STEPS": "12",
    "LCPHONE_SUITE_SHRINK": "0",
}


# Against a URL the suites show that they run as they would against staging; what they can find is shown
# in-process (below, and by the suites' own run in ./dev test), where each example costs no socket.
REMOTE_BUDGET = {**SMALL_BUDGET, "LCPHONE_SUITE_EXAMPLES": "3", "LCPHONE_MODEL_EXAMPLES": "4"}


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SMALL_BUDGET.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def remote_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REMOTE_BUDGET.items():
        monkeypatch.setenv(name, value)


def run_suites(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--pyargs", "mockserver.suites", *args)


def remote_args(served) -> list[str]:
    return [
        "--lcphone-base-url",
        served.base_url,
        "--lcphone-token",
        served.value("token"),
        "--lcphone-location",
        served.value("location id"),
    ]


def purchases_seen_by(served) -> list[int]:
    journal = httpx.get(f"{served.base_url}/__admin/journal").json()["requests"]
    return [e["status"] for e in journal if e["operationId"] == "purchaseNumber"]


def test_suites_run_against_a_sandbox_in_another_process_with_purchases(pytester, serve, remote_budget) -> None:
    served = serve()
    result = run_suites(pytester, *remote_args(served), "--lcphone-allow-purchase")
    result.assert_outcomes(passed=10)  # four operations at each of two versions, the links, the model
    assert 201 in purchases_seen_by(served)


def test_suites_are_read_only_by_default_and_take_extra_fields_as_no_drift(pytester, serve, remote_budget) -> None:
    served = serve("--drift", "extra-fields")  # fields the contract does not list: clients must ignore them
    result = run_suites(pytester, *remote_args(served))
    result.assert_outcomes(passed=7, skipped=1)  # the purchase operation (at both versions) and its links are left out
    assert purchases_seen_by(served) == []
    assert httpx.get(f"{served.base_url}/__admin/journal").json()["requests"]  # it did run


# Each drift mode against the part of the suites that must catch it, in-process (the sandbox drifts inside the
# pytest run), with a small budget: the full runs against a URL above show the rest.
V3_OPERATIONS = "test_operation_honours_the_contract_v3"


def test_a_broken_sandbox_is_caught(pytester, small_budget) -> None:
    # Three answer drifts at once: each is its own failure of the same checks, reported together.
    result = run_suites(
        pytester,
        "--lcphone-drift",
        "legacy-names",
        "--lcphone-drift",
        "wrong-types",
        "--lcphone-drift",
        "no-envelope",
        "-k",
        V3_OPERATIONS,
    )
    assert result.parseoutcomes().get("failed", 0) >= 1, result.stdout.str()[-3000:]
    output = result.stdout.str()
    assert "isUnderGhl" in output and "is not of type" in output and 'status" is a required property' in output


def test_a_sandbox_that_sells_twice_is_caught_by_the_model(pytester, small_budget) -> None:
    result = run_suites(pytester, "--lcphone-drift", "double-sell", "-k", "sandbox_model")
    assert result.parseoutcomes().get("failed", 0) == 1, result.stdout.str()[-3000:]
    assert "was sold twice" in result.stdout.str()
