"""The admin API under /__admin/: health, reset, tokens, scenarios, seeding helpers, the journal.

It answers JSON, and its errors have the same shape as the API's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hmac
import re

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import contract, errors
from .errors import ApiError
from .faults import FaultError, FaultRule
from .models import ALL_SCOPES
from .rate_limits import RateLimitPolicy
from .rendering import error_response, json_response
from .scenario import Scenario, ScenarioError

if TYPE_CHECKING:
    from .sandbox import Sandbox

ADMIN_PREFIX = "/__admin"
ADMIN_KEY_HEADER = "X-Admin-Key"


async def _json_body(request: Request, *, required: bool = True) -> Any:
    raw = await request.body()
    if not raw:
        if required:
            raise errors.validation_error(["body: a JSON request body is required"])
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise errors.validation_error([f"body: not valid JSON ({error})"]) from None


def _expect_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.validation_error(["body: expected a JSON object"])
    return value


def _string_list(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise errors.validation_error([f"{name}: expected a list of strings"])
    unknown = [item for item in value if item not in allowed]
    if unknown:
        raise errors.validation_error([f"{name}: unknown {', '.join(unknown)} (known: {', '.join(allowed)})"])
    return value


def _location_id(value: Any, name: str = "locationId") -> str:
    pattern = contract.load().schema("LocationId")["pattern"]
    if not isinstance(value, str) or not re.match(pattern, value):
        raise errors.validation_error([f"{name}: expected a location id matching {pattern}"])
    return value


class AdminApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def health(self, request: Request) -> Response:
        sandbox = self.sandbox
        return json_response(200, {"status": "ok", "seed": sandbox.seed, "scenario": sandbox.scenario.name,
                                   "inventory": len(sandbox.catalog)})

    async def reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return json_response(200, {"status": "reset", "scenario": self.sandbox.scenario.name})

    async def create_token(self, request: Request) -> Response:
        body = _expect_object(await _json_body(request))
        location_id = _location_id(body.get("locationId"))
        scopes = _string_list(body, "scopes", ALL_SCOPES)
        token = self.sandbox.phone_system.mint_token(location_id, scopes)
        return json_response(201, {"token": token.value, "locationId": location_id, "scopes": sorted(token.scopes)})

    async def get_scenario(self, request: Request) -> Response:
        return json_response(200, self.sandbox.scenario.document)

    async def load_scenario(self, request: Request) -> Response:
        raw = await request.body()
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if media_type in {"application/yaml", "application/x-yaml", "text/yaml"}:
                scenario = Scenario.from_yaml(raw)
            else:
                scenario = Scenario.from_document(await _json_body(request))
            self.sandbox.load_scenario(scenario)
        except ScenarioError as error:
            raise errors.validation_error(error.problems) from None
        return json_response(200, {"status": "loaded", "scenario": scenario.name})

    async def create_location(self, request: Request) -> Response:
        body = _expect_object(await _json_body(request))
        location_id = _location_id(body.get("id"), "id")
        scenario = Scenario.from_document({"name": "location", "locations": [body]})  # same rules as a scenario
        system = self.sandbox.phone_system
        with system.store.transaction():
            if system.store.get_location(location_id) is not None:
                raise errors.conflict(f"location {location_id} already exists")
            system.load_location(scenario.locations[0])
        return json_response(201, {"id": location_id})

    async def add_numbers(self, request: Request) -> Response:
        location_id = _location_id(request.path_params["locationId"])
        body = _expect_object(await _json_body(request))
        entry = {"draw": body} if "count" in body else body
        try:
            Scenario.from_document({"name": "numbers", "locations": [{"id": location_id, "numbers": [entry]}]})
        except ScenarioError as error:
            raise errors.validation_error([p.replace("locations.0.numbers.0.", "") for p in error.problems]) from None
        system = self.sandbox.phone_system
        if "draw" in entry:
            draw = entry["draw"]
            added = system.add_numbers(location_id, draw["countryCode"], draw["numberType"], draw["count"])
        else:
            added = [system.add_owned_number(location_id, entry)]
        return json_response(201, {"numbers": [n.to_api() for n in added]})

    async def add_pool(self, request: Request) -> Response:
        location_id = _location_id(request.path_params["locationId"])
        body = _expect_object(await _json_body(request))
        try:
            Scenario.from_document({"name": "pool", "locations": [{"id": location_id, "pools": [body]}]})
        except ScenarioError as error:
            raise errors.validation_error([p.replace("locations.0.pools.0.", "") for p in error.problems]) from None
        system = self.sandbox.phone_system
        pool = system.add_pool(location_id, body)
        names = {n.phone_number: n.friendly_name for n in system.store.active_numbers(location_id)}
        return json_response(201, pool.to_api(names))

    async def get_faults(self, request: Request) -> Response:
        return json_response(200, {"faults": [rule.to_api() for rule in self.sandbox.faults.rules]})

    async def add_fault(self, request: Request) -> Response:
        try:
            rule = FaultRule.from_api(await _json_body(request), list(self.sandbox.contract.operations))
        except FaultError as error:
            raise errors.validation_error(error.problems) from None
        return json_response(201, self.sandbox.faults.add(rule).to_api())

    async def clear_faults(self, request: Request) -> Response:
        self.sandbox.faults.clear()
        return json_response(200, {"faults": []})

    async def get_rate_limits(self, request: Request) -> Response:
        return json_response(200, _policy_to_api(self.sandbox.rate_limiter.policy))

    async def set_rate_limits(self, request: Request) -> Response:
        body = _expect_object(await _json_body(request))
        current = self.sandbox.rate_limiter.policy
        fields = {"enforce": ("enforce", bool), "burst": ("burst", int), "windowMs": ("window_ms", int),
                  "daily": ("daily", int)}
        problems = [f"{key}: unknown field (known: {', '.join(fields)})" for key in body if key not in fields]
        values = {}
        for key, (attribute, kind) in fields.items():
            if key in body:
                value = body[key]
                if not isinstance(value, kind) or (kind is int and (isinstance(value, bool) or value < 1)):
                    problems.append(f"{key}: expected {'true or false' if kind is bool else 'a whole number, 1 or more'}")
                values[attribute] = value
        if problems:
            raise errors.validation_error(problems)
        policy = RateLimitPolicy(**{**vars(current), **values})
        self.sandbox.rate_limiter.configure(policy)
        return json_response(200, _policy_to_api(policy))

    async def journal(self, request: Request) -> Response:
        return json_response(200, {"requests": [entry.to_api() for entry in self.sandbox.journal.entries()]})

    async def clear_journal(self, request: Request) -> Response:
        self.sandbox.journal.clear()
        return json_response(200, {"status": "cleared"})


def _policy_to_api(policy: RateLimitPolicy) -> dict[str, Any]:
    return {"enforce": policy.enforce, "burst": policy.burst, "windowMs": policy.window_ms, "daily": policy.daily}


def _guarded(sandbox: Sandbox, endpoint):
    """Checks the admin key (when the sandbox has one) and renders errors like the API's."""

    async def guarded(request: Request) -> Response:
        try:
            if sandbox.admin_key is not None:
                sent = request.headers.get(ADMIN_KEY_HEADER, "")
                if not hmac.compare_digest(sent.encode(), sandbox.admin_key.encode()):
                    raise errors.ApiError(401, f"The admin API needs the {ADMIN_KEY_HEADER} header.", "Unauthorized")
            return await endpoint(request)
        except ApiError as error:
            return error_response(error)

    return guarded


def admin_routes(sandbox: Sandbox) -> list[Route]:
    admin = AdminApi(sandbox)
    table = [
        ("/health", admin.health, "GET"),
        ("/reset", admin.reset, "POST"),
        ("/tokens", admin.create_token, "POST"),
        ("/scenario", admin.get_scenario, "GET"),
        ("/scenario", admin.load_scenario, "POST"),
        ("/locations", admin.create_location, "POST"),
        ("/locations/{locationId}/numbers", admin.add_numbers, "POST"),
        ("/locations/{locationId}/pools", admin.add_pool, "POST"),
        ("/journal", admin.journal, "GET"),
        ("/journal", admin.clear_journal, "DELETE"),
        ("/faults", admin.get_faults, "GET"),
        ("/faults", admin.add_fault, "POST"),
        ("/faults", admin.clear_faults, "DELETE"),
        ("/rate-limits", admin.get_rate_limits, "GET"),
        ("/rate-limits", admin.set_rate_limits, "PUT"),
    ]
    return [Route(ADMIN_PREFIX + path, endpoint=_guarded(sandbox, endpoint), methods=[method])
            for path, endpoint, method in table]
