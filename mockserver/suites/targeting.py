"""Aims the contract suites at the lcphone target of the current pytest run."""

from __future__ import annotations

import os
import zlib
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.generation.meta import TestPhase, negated_parameters
from schemathesis.openapi.checks import MissingHeaderNotRejected

from mockserver.contract.operations import registry as operation_registry
from mockserver.contract.versions import load_contract
from mockserver.contract.versions import registry as version_registry
from mockserver.domain.numbering import INVENTORY_COUNTRIES
from mockserver.suites import SCHEMATHESIS_CONFIG, budget
from mockserver.testing.harness import IN_PROCESS_URL
from mockserver.testing.plugin import target_for

CONFIG: pytest.Config | None = None  # set by the suites' conftest.py when pytest loads it


def current_target() -> Any:
    if CONFIG is None:
        raise RuntimeError("the lcphone suites run under pytest: pytest --pyargs mockserver.suites")
    return target_for(CONFIG)


def purchases_allowed(target: Any) -> bool:
    return not target.remote or target.settings.allow_purchase


def stocked_countries(target: Any) -> list[str]:
    """Countries whose inventory has numbers: the sandbox's, or LCPHONE_SUITE_COUNTRIES for a remote API."""
    if not target.remote:
        return list(INVENTORY_COUNTRIES)
    configured = os.environ.get("LCPHONE_SUITE_COUNTRIES", "US,CA")
    return [c.strip().upper() for c in configured.split(",") if c.strip()]


def contract_schema(target: Any, version: str):
    """One version's contract loaded by schemathesis, pointed at `target` with its token and location.

    Against a target where purchases are not allowed, the operations that spend money are left out.
    """
    location_id, token = target.default_credentials()
    config = SchemathesisConfig.from_path(SCHEMATHESIS_CONFIG)
    schema = schemathesis.openapi.from_dict(load_contract(version), config=config)
    if target.remote:
        schema.config.update(base_url=target.base_url)
    else:
        schema.app = target.app
        schema.config.update(base_url=IN_PROCESS_URL)
    schema.config.update(parameters={"locationId": location_id})
    schema.config.generation.update(max_examples=budget("LCPHONE_SUITE_EXAMPLES", 25))
    if not purchases_allowed(target):
        for operation in operation_registry().spending:
            schema = schema.exclude(operation_id=operation.id)  # type: ignore[assignment]
    offering = {
        other.id for operation in operation_registry().spending for other in operation_registry().leading_to(operation)
    }
    schema.hook("map_case")(_into_the_target(location_id, stocked_countries(target), offering))
    schema.hook("filter_failure")(_another_version_is_not_invalid)

    @schema.auth()
    class TargetToken:
        def get(self, case, context):
            return token

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


def _into_the_target(location_id: str, stocked: list[str], offering: set[str]):
    def into_the_target_location(context, case):
        # Valid stateful steps act on the target's location (a random valid id is another location: 403;
        # the `parameters` setting does this for the stateless phases only) and search countries that
        # have numbers, so that search -> purchase -> list (the contract's links) reaches real purchases.
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive or meta.phase.name != TestPhase.STATEFUL:
            return case
        if case.path_parameters and "locationId" in case.path_parameters:
            case.path_parameters = {**case.path_parameters, "locationId": location_id}
        if case.operation.definition.raw.get("operationId") in offering and case.query:
            # Random digit filters match no number: browse the country instead.
            country = stocked[zlib.crc32(str(case.query.get("countryCode", "")).encode()) % len(stocked)]
            case.query = {**case.query, "countryCode": country, "firstPart": "", "lastPart": "", "anywhere": ""}
        return case

    return into_the_target_location


def _another_version_is_not_invalid(context, failure, case, response) -> bool:
    # One path serves every version (D1): a request whose only "mistake" is a Version header left out
    # (pools and search are served at v3 then) or naming another version is that version's valid
    # request, not invalid data the service should have refused.
    if not isinstance(failure, (AcceptedNegativeData, MissingHeaderNotRejected)):
        return True
    negated = {name.lower() for name, _ in negated_parameters(case.meta)}
    sent = {k.lower(): v for k, v in (case.headers or {}).items()}.get("version")
    return not (negated <= {"version"} and (sent is None or sent in version_registry()) and response.status_code < 300)
