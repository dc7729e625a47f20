"""The packaged property suites: runnable against a URL exactly as against staging, and able to catch a broken API."""

from __future__ import annotations

import httpx
import pytest

SMALL_BUDGET = {"LCPHONE_SUITE_EXAMPLES": "8", "LCPHONE_MODEL_EXAMPLES": "5", "LCPHONE_MODEL_STEPS": "12",
                "LCPHONE_SUITE_SHRINK": "0"}


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SMALL_BUDGET.items():
        monkeypatch.setenv(name, value)


def run_suites(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--pyargs", "mockserver.suites", *args)


def remote_args(served) -> list[str]:
    return ["--lcphone-base-url", served.base_url, "--lcphone-token", served.value("token"),
            "--lcphone-location", served.value("location id")]


def purchases_seen_by(served) -> list[int]:
    journal = httpx.get(f"{served.base_url}/__admin/journal").json()["requests"]
    return [e["status"] for e in journal if e["operationId"] == "purchaseNumber"]


def test_suites_run_against_a_sandbox_in_another_process_with_purchases(pytester, serve, small_budget) -> None:
    served = serve()
    result = run_suites(pytester, *remote_args(served), "--lcphone-allow-purchase")
    result.assert_outcomes(passed=10)  # four operations at each of two versions, the links, the model
    assert 201 in purchases_seen_by(served)


def test_suites_are_read_only_against_a_remote_target_by_default(pytester, serve, small_budget) -> None:
    served = serve()
    result = run_suites(pytester, *remote_args(served))
    result.assert_outcomes(passed=7, skipped=1)  # the purchase operation (at both versions) and its links are left out
    assert purchases_seen_by(served) == []
    assert httpx.get(f"{served.base_url}/__admin/journal").json()["requests"]  # it did run


@pytest.mark.parametrize(
    ("drift", "suite", "named"),
    [
        ("legacy-names", "contract_properties", "isUnderGhl"),
        ("no-envelope", "contract_properties", "status"),
        ("wrong-types", "contract_properties", "is not of type"),
        ("double-sell", "sandbox_model", "was sold twice"),
    ],
)
def test_a_broken_sandbox_is_caught(pytester, small_budget, drift: str, suite: str, named: str) -> None:
    result = run_suites(pytester, "--lcphone-drift", drift, "-k", suite)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, result.stdout.str()[-3000:]
    assert named in result.stdout.str()


def test_extra_fields_are_not_drift(pytester, small_budget) -> None:
    run_suites(pytester, "--lcphone-drift", "extra-fields").assert_outcomes(passed=10)
