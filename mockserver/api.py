"""The four LC Phone endpoints: one gateway that applies the contract, and four thin handlers.

The gateway checks, in the vendor's order: Version header, token, scope,
parameters and body, access to the location; then calls the handler, which
only translates typed values into a `PhoneSystem` call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from . import errors
from .contract import OperationSpec
from .drift import Drift
from .errors import ApiError
from .inventory import SearchQuery
from .models import Location
from .phone_system import ACTIVE_NUMBERS_MESSAGE, PURCHASE_MESSAGE, PhoneSystem
from .rendering import envelope, send_json
from .request_validation import MAX_BODY_BYTES, CheckedRequest, OperationValidator, Violation

if TYPE_CHECKING:
    from .sandbox import Sandbox

Handler = Callable[[PhoneSystem, Location, CheckedRequest], tuple[int, dict[str, Any]]]


def list_number_pools(system: PhoneSystem, location: Location, request: CheckedRequest) -> tuple[int, dict[str, Any]]:
    return 200, system.number_pools(location)


def search_available_numbers(system: PhoneSystem, location: Location, request: CheckedRequest) -> tuple[int, dict[str, Any]]:
    p = request.params
    query = SearchQuery(
        country=p["countryCode"],
        number_types=frozenset(p["numberTypes"]),
        first_part=p["firstPart"],
        last_part=p["lastPart"],
        anywhere=p["anywhere"],
        sms=p["smsEnabled"],
        mms=p["mmsEnabled"],
        voice=p["voiceEnabled"],
    )
    return 200, system.search_available(location, query)


def purchase_number(system: PhoneSystem, location: Location, request: CheckedRequest) -> tuple[int, dict[str, Any]]:
    return 201, envelope(system.purchase(location, request.body), PURCHASE_MESSAGE, 201)


def list_active_numbers(system: PhoneSystem, location: Location, request: CheckedRequest) -> tuple[int, dict[str, Any]]:
    p = request.params
    data = system.active_numbers(
        location,
        page=p["page"],
        page_size=p["pageSize"],
        search_filter=p.get("searchFilter", ""),
        skip_number_pool=p["skipNumberPool"],
        include_rcs_sender_ids=p["includeRcsSenderIds"],
    )
    return 200, envelope(data, ACTIVE_NUMBERS_MESSAGE, 200)


HANDLERS: dict[str, Handler] = {
    "listNumberPools": list_number_pools,
    "searchAvailableNumbers": search_available_numbers,
    "purchaseNumber": purchase_number,
    "listActiveNumbers": list_active_numbers,
}


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """`parse_qsl(keep_blank_values=True)`, with a fast path for the common case of nothing to unescape."""
    if "%" in query_string or "+" in query_string:
        return parse_qsl(query_string, keep_blank_values=True)
    pairs = []
    for part in query_string.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


class BodyTooLarge(Exception):
    pass


async def read_body(scope: dict[str, Any], receive, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing to buffer more than `limit` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise BodyTooLarge
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def version_error(operation: OperationSpec, sent: str | None) -> ApiError | None:
    header = operation.version_header
    if header is None:
        return None
    supported = header.schema.get("enum", []) if isinstance(header.schema, dict) else []
    if sent in supported:
        return None
    wanted = " or ".join(supported)
    if not sent:
        return errors.bad_request(f"Version header is required for {operation.method} {operation.path}: send Version: {wanted}.")
    return errors.bad_request(
        f"Endpoint {operation.method} {operation.path} not available in API version {sent}. Send the header Version: {wanted}."
    )


def rejection_for(violations: list[Violation]) -> ApiError:
    rules = {v.rule for v in violations}
    if "size" in rules:
        return errors.error_for_status(413, f"Request body is larger than {MAX_BODY_BYTES} bytes")
    if "content-type" in rules:
        return errors.error_for_status(415, "; ".join(str(v) for v in violations if v.rule == "content-type"))
    return errors.validation_error([str(v) for v in violations])


class Gateway:
    """Serves one operation of the contract, as a plain ASGI callable (the hot path skips Starlette)."""

    def __init__(self, sandbox: Sandbox, operation: OperationSpec, handler: Handler) -> None:
        self.sandbox = sandbox
        self.operation = operation
        self.handler = handler
        self.validator = OperationValidator(operation)

    async def __call__(self, scope: dict[str, Any], receive, send, path_params: dict[str, str]) -> None:
        operation = self.operation
        sandbox = self.sandbox
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        query_string = scope.get("query_string", b"").decode("latin-1")
        query = parse_query(query_string)
        body = None
        too_large = False
        if operation.body_schema is not None:
            try:
                body = await read_body(scope, receive)
            except BodyTooLarge:
                too_large = True
        checked = self.validator.check(path_params, query, headers, body, headers.get("content-type"))
        if too_large:
            pointer = operation.body_pointer or operation.pointer
            checked.violations.append(Violation("body", f"larger than {MAX_BODY_BYTES} bytes", pointer, "size"))
        location_id = path_params.get("locationId") or next((v for k, v in query if k == "locationId"), "")
        limit_headers: dict[str, str] = {}
        drift = sandbox.drift
        try:
            if drift:
                await self._drift_before(drift)
            status, payload = self._serve(checked, headers.get("version"), location_id, limit_headers)
        except ApiError as error:
            status, payload = error.status, error.to_body()
            limit_headers.update(error.headers)
        except Exception as crash:
            # A crash is a sandbox bug: answer 500 in the vendor's shape, and keep it for the test that caused it.
            sandbox.crashes.append(crash)
            status, payload = 500, errors.error_for_status(500, "Internal server error").to_body()
        if drift:
            status, payload = drift.transform(status, payload, limit_headers)
        await send_json(send, status, payload, limit_headers)
        sandbox.journal.record(scope["method"], scope["path"], query_string, operation.operation_id, status,
                               checked.violations)

    @staticmethod
    async def _drift_before(drift: Drift) -> None:
        if drift.delay_seconds:
            await asyncio.sleep(drift.delay_seconds)
        failure = drift.forced_failure()
        if failure is not None:
            raise errors.error_for_status(failure, "Service temporarily unavailable")

    def _serve(self, checked: CheckedRequest, version: str | None, location_id: str,
               limit_headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        sandbox = self.sandbox
        system = sandbox.phone_system
        problem = version_error(self.operation, version)
        token = None
        if problem is None:
            try:
                token = system.authenticate(checked.token)
            except ApiError as error:
                problem = error
        verdict = sandbox.rate_limiter.hit(token.value if token else "anonymous", location_id)
        limit_headers.update(verdict.headers)
        if not verdict.allowed:
            raise errors.error_for_status(429, f"Too many requests. Retry after {verdict.retry_after} seconds.")
        if problem is not None:
            raise problem
        system.authorize(token, self.operation.scopes)
        if "lax-validation" in sandbox.drift:
            self.validator.overlook_missing(checked)
        if checked.violations:
            raise rejection_for(checked.violations)
        location = system.location_for(token, location_id)
        return self.handler(system, location, checked)


class ApiDispatcher:
    """Sends each request of a contract operation to its gateway; anything else to `fallback` (the admin API, 404s).

    A known path asked with another method gets 405 with Allow (DECISIONS.md, D23).
    """

    def __init__(self, sandbox: Sandbox, fallback, on_unrouted) -> None:
        self.contract = sandbox.contract
        self.fallback = fallback
        self.on_unrouted = on_unrouted
        self.gateways = {op.operation_id: Gateway(sandbox, op, HANDLERS[op.operation_id])
                         for op in sandbox.contract.operations.values()}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            found = self.contract.match_with_path_params(scope["method"], scope["path"])
            if found is not None:
                operation, path_params = found
                await self.gateways[operation.operation_id](scope, receive, send, path_params)
                return
            allowed = self.contract.methods_for(scope["path"])
            if allowed:
                await self.on_unrouted(scope, send, 405, {"Allow": ", ".join(allowed)})
                return
        await self.fallback(scope, receive, send)
