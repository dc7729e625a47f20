"""The state-machine model of the service, run against the lcphone target."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from mockserver.suites import budget, shrinking
from mockserver.suites.model import Account, PhoneApi, Target, build_machine
from mockserver.suites.targeting import purchases_allowed, stocked_countries

SECOND_LOCATION = "lcphone-model-second"


PHASES = tuple(p for p in Phase if shrinking() or p is not Phase.shrink)


def test_the_service_behaves_like_its_model(lcphone):
    target = lcphone.target

    def accounts() -> list[Account]:
        first = Account(lcphone.location_id, lcphone.token)
        if lcphone.remote:
            return [first]
        target.reset()
        return [first, Account(SECOND_LOCATION, lcphone.token_for(SECOND_LOCATION))]

    machine = build_machine(
        Target(
            api=PhoneApi(lcphone.make_client()),
            accounts=accounts,
            can_purchase=purchases_allowed(target),
            countries=tuple(stocked_countries(target)),
            account_count=1 if lcphone.remote else 2,
        )
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=budget("LCPHONE_MODEL_EXAMPLES", 15),
            stateful_step_count=budget("LCPHONE_MODEL_STEPS", 20),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=PHASES,
            derandomize=True,
            database=None,
        ),
    )
