"""The admin API under /__admin/: health, reset, tokens, scenarios, seeding helpers, the journal.

It answers JSON, and its errors have the same shape as the API's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import re

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import contract, errors
from .errors import ApiError
from .models import ALL_SCOPES
from .rendering import error_response, json_response
from .scenario import Scenario, ScenarioError

if TYPE_CHECKING:
    from .sandbox import Sandbox

ADMIN_PREFIX = "/__admin"


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

    async def journal(self, request: Request) -> Response:
        return json_response(200, {"requests": [entry.to_api() for entry in self.sandbox.journal.entries()]})

    async def clear_journal(self, request: Request) -> Response:
        self.sandbox.journal.clear()
        return json_response(200, {"status": "cleared"})


def _guarded(endpoint):  # errors raised by an admin endpoint are rendered like the API's
    async def guarded(request: Request) -> Response:
        try:
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
    ]
    return [Route(ADMIN_PREFIX + path, endpoint=_guarded(endpoint), methods=[method]) for path, endpoint, method in table]
