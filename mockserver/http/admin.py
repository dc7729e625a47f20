"""The admin API under /__admin/: thin routes over the sandbox's control plane (`ControlPlane`).

Its contract is `contracts/admin.openapi.yaml`; bodies are checked against it
with the API's own validator (`admin_validation`), and errors come in the
API's error shape. Bodies are limited to 1 MiB; slow work (scenarios, many
numbers) runs off the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from .. import errors
from ..contract import admin as admin_contract
from ..contract.conformance import parse_query
from ..contract.coverage import CoverageReport
from ..contract.versions import registry as version_registry
from ..control.faults import FaultError, FaultRule
from ..control.journal import Journal
from ..control.plane import REPLICA
from ..domain.scenario import Scenario, ScenarioError
from ..errors import ApiError
from ..views import view_for
from ..views.base import number_pool
from .admin_access import AdminAccess, guarded_by
from .inspector import inspector_routes
from .rendering import json_response

if TYPE_CHECKING:
    from ..control.plane import ControlPlane

ADMIN_PREFIX = "/__admin"
MAX_ADMIN_BODY = 1024 * 1024
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml"}
_LENIENT_TYPES = {"", "application/x-www-form-urlencoded"}  # what curl -d sends: read as JSON


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ADMIN_BODY:
        raise errors.error_for_status(413, f"Request body is larger than {MAX_ADMIN_BODY} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_ADMIN_BODY:
                raise errors.error_for_status(413, f"Request body is larger than {MAX_ADMIN_BODY} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # the client went, or was closed for a stalled body: no crash of the sandbox
        raise errors.ApiError(400, "The connection closed before the request body was whole.", "Bad Request") from None
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def checked_body(request: Request, operation_id: str) -> Any:
    """The request's JSON body, checked against the admin contract's operation (400 naming each problem)."""
    raw = await _body(request)
    media_type = _media_type(request)
    content_type = "application/json" if media_type in _LENIENT_TYPES else media_type
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = parse_query(request.url.query)
    checked = admin_contract.validator(operation_id).check(request.path_params, query, headers, raw, content_type)
    if checked.violations:
        raise errors.validation_error([admin_contract.described(v) for v in checked.violations])
    return checked.body


def _scenario_problems(error: ScenarioError, prefix: str = "") -> ApiError:
    return errors.validation_error([p.replace(prefix, "") for p in error.problems])


class AdminApi:
    def __init__(self, sandbox: ControlPlane) -> None:
        self.sandbox = sandbox

    async def health(self, request: Request) -> Response:
        health = self.sandbox.health()
        return json_response(200 if health["status"] == "ok" else 503, health)

    async def reset(self, request: Request) -> Response:
        await run_in_threadpool(self.sandbox.reset)
        return json_response(200, {"status": "reset", "scenario": self.sandbox.scenario.name})

    async def mint_token(self, request: Request) -> Response:
        body = await checked_body(request, "mintToken")
        token = self.sandbox.mint_token(body["locationId"], body.get("scopes"))
        return json_response(
            201, {"token": token.value, "locationId": token.location_id, "scopes": sorted(token.scopes)}
        )

    async def get_scenario(self, request: Request) -> Response:
        return json_response(200, self.sandbox.scenario.document)

    async def load_scenario(self, request: Request) -> Response:
        if _media_type(request) in YAML_TYPES:
            raw = await _body(request)
            parse: Callable[[], Scenario] = lambda: Scenario.from_yaml(raw)
        else:
            document = await checked_body(request, "loadScenario")
            parse = lambda: Scenario.from_document(document)

        def load() -> Scenario:
            scenario = parse()
            self.sandbox.load_scenario(scenario)
            return scenario

        try:
            scenario = await run_in_threadpool(load)
        except ScenarioError as error:
            raise _scenario_problems(error) from None
        return json_response(200, {"status": "loaded", "scenario": scenario.name})

    async def list_locations(self, request: Request) -> Response:
        return json_response(200, {"locations": await run_in_threadpool(self.sandbox.describe_locations)})

    async def create_location(self, request: Request) -> Response:
        body = await checked_body(request, "createLocation")
        try:
            Scenario.from_document({"name": "location", "locations": [body]})  # the same rules as a scenario's
        except ScenarioError as error:
            raise _scenario_problems(error, "locations.0.") from None
        await run_in_threadpool(self.sandbox.create_location, body, True)
        return json_response(201, {"id": body["id"]})

    async def add_numbers(self, request: Request) -> Response:
        location_id = request.path_params["locationId"]
        body = await checked_body(request, "addNumbers")
        entry = {"draw": body} if "count" in body else body
        try:
            Scenario.from_document({"name": "numbers", "locations": [{"id": location_id, "numbers": [entry]}]})
        except ScenarioError as error:
            raise _scenario_problems(error, "locations.0.numbers.0.") from None
        sandbox = self.sandbox
        view = self._view()

        def add() -> list[dict[str, Any]]:
            if "draw" in entry:
                draw = entry["draw"]
                added = sandbox.add_numbers(location_id, draw["countryCode"], draw["numberType"], draw["count"])
            else:
                added = [sandbox.add_number(location_id, entry)]
            return [view.active_number(number) for number in added]

        return json_response(201, {"numbers": await run_in_threadpool(add)})

    @staticmethod
    def _view():
        return view_for(version_registry().newest)  # a number as the newest version shows it

    async def add_pool(self, request: Request) -> Response:
        location_id = request.path_params["locationId"]
        body = await checked_body(request, "addPool")
        try:
            Scenario.from_document({"name": "pool", "locations": [{"id": location_id, "pools": [body]}]})
        except ScenarioError as error:
            raise _scenario_problems(error, "locations.0.pools.0.") from None
        pool, names = await run_in_threadpool(self.sandbox.add_pool_named, location_id, body)
        return json_response(201, number_pool(pool, names))

    async def get_faults(self, request: Request) -> Response:
        return json_response(200, {"faults": [rule.to_api() for rule in self.sandbox.fault_rules()]})

    async def add_fault(self, request: Request) -> Response:
        body = await checked_body(request, "addFault")
        try:
            rule = FaultRule.from_api(body, self.sandbox.operations.ids)
        except FaultError as error:
            raise errors.validation_error(error.problems) from None
        return json_response(201, self.sandbox.add_fault(rule).to_api())

    async def clear_faults(self, request: Request) -> Response:
        self.sandbox.clear_faults()
        return json_response(200, {"faults": []})

    async def get_rate_limits(self, request: Request) -> Response:
        return json_response(200, policy_to_api(self.sandbox.rate_limit_policy))

    async def set_rate_limits(self, request: Request) -> Response:
        body = await checked_body(request, "setRateLimits")
        names = {"enforce": "enforce", "burst": "burst", "windowMs": "window_ms", "daily": "daily"}
        policy = self.sandbox.set_rate_limits(**{names[key]: value for key, value in body.items()})
        return json_response(200, policy_to_api(policy))

    async def journal(self, request: Request) -> Response:
        return json_response(200, journal_page(self.sandbox.journal, request.url.query))

    async def coverage(self, request: Request) -> Response:
        """The contract coverage of the journal's requests."""
        sandbox = self.sandbox
        report = CoverageReport.of_journal(sandbox.journal.entries(), sandbox.classifier.catalogue)
        return json_response(200, report.to_json())

    async def clear_journal(self, request: Request) -> Response:
        self.sandbox.journal.clear()
        return json_response(200, {"status": "cleared"})


def journal_page(journal: Journal, query_string: str) -> dict[str, Any]:
    """A page of the journal as `GET /__admin/journal` answers it (the sandbox's, and the proxy's)."""
    problems = admin_contract.validator("getJournal").check({}, parse_query(query_string), {}, None, None)
    if problems.violations:
        raise errors.validation_error([str(v) for v in problems.violations])
    params = problems.params
    limit, oldest = params["limit"], params["order"] == "oldest"
    # One more than the page, to say whether more follow; a page is bounded in entries, and each entry in size.
    entries = journal.entries(
        after=params.get("after", 0), limit=limit + 1, violations_only=params.get("violations", False), first=oldest
    )
    more = len(entries) > limit
    entries = entries[:limit] if oldest else entries[-limit:]
    show = params.get("showTokens", False)
    return {
        "requests": [entry.to_api(show) for entry in entries],
        "last": journal.last_sequence,
        "total": len(journal),
        "more": more,
        "next": entries[-1].sequence if oldest and entries else None,
        "replica": REPLICA,
    }


def policy_to_api(policy) -> dict[str, Any]:
    fields = asdict(policy)
    return {
        "enforce": fields["enforce"],
        "burst": fields["burst"],
        "windowMs": fields["window_ms"],
        "daily": fields["daily"],
    }


def admin_routes(sandbox: ControlPlane) -> list[Route]:
    admin = AdminApi(sandbox)
    table: list[tuple[str, Callable[[Request], Awaitable[Response]], str]] = [
        ("/health", admin.health, "GET"),
        ("/reset", admin.reset, "POST"),
        ("/tokens", admin.mint_token, "POST"),
        ("/scenario", admin.get_scenario, "GET"),
        ("/scenario", admin.load_scenario, "POST"),
        ("/locations", admin.list_locations, "GET"),
        ("/locations", admin.create_location, "POST"),
        ("/locations/{locationId}/numbers", admin.add_numbers, "POST"),
        ("/locations/{locationId}/pools", admin.add_pool, "POST"),
        ("/journal", admin.journal, "GET"),
        ("/journal", admin.clear_journal, "DELETE"),
        ("/coverage", admin.coverage, "GET"),
        ("/faults", admin.get_faults, "GET"),
        ("/faults", admin.add_fault, "POST"),
        ("/faults", admin.clear_faults, "DELETE"),
        ("/rate-limits", admin.get_rate_limits, "GET"),
        ("/rate-limits", admin.set_rate_limits, "PUT"),
    ]
    access = AdminAccess(sandbox)
    routes = [
        Route(ADMIN_PREFIX + path, endpoint=guarded_by(access, endpoint), methods=[method])
        for path, endpoint, method in table
    ]
    return routes + inspector_routes(sandbox, access)
