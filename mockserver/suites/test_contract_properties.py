"""Schemathesis over the whole contract: every operation, positive and negative data, every check, and
stateful runs along the contract's links (search -> purchase -> list active numbers)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from mockserver.contract.versions import registry as version_registry
from mockserver.errors import NUMBER_NO_LONGER_AVAILABLE
from mockserver.suites import budget, shrinking
from mockserver.suites.targeting import contract_schema, current_target, purchases_allowed

pytestmark = pytest.mark.lcphone_allow_violations  # negative data breaks the contract on purpose

TARGET = current_target()
SCHEMAS = {version.name: contract_schema(TARGET, version.name) for version in version_registry()}
schema = SCHEMAS[version_registry().newest.name]
PHASES = tuple(p for p in Phase if shrinking() or p is not Phase.shrink)


def _honours(version: str):
    @SCHEMAS[version].parametrize()
    @settings(deadline=None, suppress_health_check=list(HealthCheck), phases=PHASES)
    def test_operation_honours_the_contract(case, lcphone):
        case.call_and_validate()

    return test_operation_honours_the_contract


# One test per version of the registry: test_operation_honours_the_contract_v3, ..._2021_07_28.
for _version in SCHEMAS:
    globals()[f"test_operation_honours_the_contract_{_version.replace('-', '_')}"] = _honours(_version)


def test_linked_sequences_honour_the_contract(lcphone):
    if not purchases_allowed(TARGET):
        pytest.skip("every link of the contract goes through a purchase, and this target is read-only")
    statuses: set[tuple[str, int]] = set()
    refusals: set[str] = set()

    class FromTheScenario(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario starts from the same state, so that hypothesis can replay it. (A remote
            # target cannot be reset: there, replays see the state earlier scenarios left.)
            if not lcphone.remote:
                lcphone.target.reset()
            super().setup()

        def after_call(self, response, case) -> None:
            super().after_call(response, case)
            operation_id = case.operation.definition.raw["operationId"]
            statuses.add((operation_id, response.status_code))
            if operation_id == "purchaseNumber" and response.status_code == 400:
                refusals.add(response.json().get("message", ""))

    run_state_machine_as_test(
        FromTheScenario,
        settings=settings(
            max_examples=budget("LCPHONE_SUITE_EXAMPLES", 25),
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=PHASES,
            derandomize=True,
            database=None,
        ),
    )
    if not lcphone.remote and purchases_allowed(TARGET):
        # The generated sequences must have reached real state changes, not only validation errors.
        assert ("purchaseNumber", 201) in statuses, sorted(statuses, key=str)
        assert ("listActiveNumbers", 200) in statuses, sorted(statuses, key=str)
        # A refusal only the state explains: a sold number bought again, or a fingerprint reused for another number.
        assert any(m == NUMBER_NO_LONGER_AVAILABLE or "already used" in m for m in refusals), sorted(refusals)
