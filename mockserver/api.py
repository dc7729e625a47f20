"""The four LC Phone endpoints: one gateway per route that applies the contract, and four thin handlers.

The gateway picks the version the request asked for (D1), then checks, in the
vendor's order: token, scope, parameters and body, access to the location; then
calls the handler, which only translates typed values into a `PhoneSystem`
call and hands the result to the version's view.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from . import errors
from .contract import OperationSpec, all_versions
from .errors import ApiError
from .inventory import SearchQuery
from .journal import RequestDetails
from .models import Location
from .phone_system import PhoneSystem, PurchaseOrder, request_digest
from .rendering import dumps, send_raw_json
from .request_validation import MAX_BODY_BYTES, CheckedRequest, OperationValidator, Violation
from .versions import negotiate, version_values
from .views import View, view_for

if TYPE_CHECKING:
    from .sandbox import Sandbox

Handler = Callable[[PhoneSystem, Location, CheckedRequest, View], tuple[int, Any]]
NUMBER_TYPES = ("local", "tollFree", "mobile")


def list_number_pools(system: PhoneSystem, location: Location, request: CheckedRequest, view: View) -> tuple[int, Any]:
    return 200, view.number_pools(system.number_pools(location))


def _number_types(value: list[str] | str | None) -> frozenset[str]:
    """The types asked for: a list (v3), a comma-separated string (2021-07-28), or every type when left out."""
    if value is None:
        return frozenset(NUMBER_TYPES)
    return frozenset(value.split(",") if isinstance(value, str) else value)


def search_available_numbers(
    system: PhoneSystem, location: Location, request: CheckedRequest, view: View
) -> tuple[int, Any]:
    p = request.params
    query = SearchQuery(
        country=p["countryCode"],
        number_types=_number_types(p.get("numberTypes")),
        first_part=p.get("firstPart", ""),
        last_part=p.get("lastPart", ""),
        anywhere=p.get("anywhere", ""),
        sms=p.get("smsEnabled", False),
        mms=p.get("mmsEnabled", False),
        voice=p.get("voiceEnabled", False),
    )
    return 200, view.search(system.search_available(location, query))


def purchase_number(system: PhoneSystem, location: Location, request: CheckedRequest, view: View) -> tuple[int, Any]:
    body = request.body
    order = PurchaseOrder(
        phone_number=body["phoneNumber"],
        digest=request_digest(body),
        country_code=body.get("countryCode"),
        number_type=body.get("numberType"),
        address_sid=body.get("addressSid") or "",
        bundle_sid=body.get("bundleSid") or "",
        skip_location_kyc=bool(body.get("skipLocationKYC")),
        fingerprint_id=body.get("fingerprintId"),
    )
    return 201, view.purchase(system.purchase(location, order))


def list_active_numbers(
    system: PhoneSystem, location: Location, request: CheckedRequest, view: View
) -> tuple[int, Any]:
    p = request.params
    page = system.active_numbers(
        location,
        page=p["page"],  # as the client sent it (a number), echoed as such
        page_size=int(p["pageSize"]),
        search_filter=p.get("searchFilter", ""),
        skip_number_pool=p["skipNumberPool"],
        include_rcs_sender_ids=p.get("includeRcsSenderIds", False),
    )
    return 200, view.active_numbers(page)


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


def rejection_for(violations: list[Violation]) -> ApiError:
    """400 naming every problem (D4); a body over the limit is 413 (D31)."""
    if any(v.rule == "size" for v in violations):
        return errors.error_for_status(413, f"Request body is larger than {MAX_BODY_BYTES} bytes")
    return errors.validation_error([str(v) for v in violations])


@dataclass(frozen=True)
class Route:
    """One path and method of the API, with its operation at each version that serves it (newest first)."""

    method: str
    path: str
    operations: dict[str, OperationSpec]

    @property
    def operation_id(self) -> str:
        return next(iter(self.operations.values())).operation_id


class Router:
    """Every route of every version's contract, matched against concrete paths."""

    def __init__(self) -> None:
        routes: dict[tuple[str, str], dict[str, OperationSpec]] = {}
        for version, contract in all_versions().items():
            for operation in contract.operations.values():
                routes.setdefault((operation.method, operation.path), {})[version] = operation
        self.routes = [Route(method, path, operations) for (method, path), operations in routes.items()]
        self._patterns = [(route, self._compile(route.path)) for route in self.routes]

    @staticmethod
    def _compile(template: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", template)
        return re.compile("".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route, pattern in self._patterns:
            if route.method == method:
                matched = pattern.fullmatch(path)
                if matched:
                    return route, matched.groupdict()
        return None

    def methods_for(self, path: str) -> list[str]:
        """The methods served on a concrete path (empty for an unknown path)."""
        return [route.method for route, pattern in self._patterns if pattern.fullmatch(path)]


@functools.lru_cache(maxsize=1)
def router() -> Router:
    return Router()


class Gateway:
    """Serves one route at every version, as a plain ASGI callable (the hot path skips Starlette)."""

    def __init__(self, sandbox: Sandbox, route: Route) -> None:
        self.sandbox = sandbox
        self.route = route
        self.handler = HANDLERS[route.operation_id]
        self.validators = {version: OperationValidator(op) for version, op in route.operations.items()}

    async def __call__(self, scope: dict[str, Any], receive, send, path_params: dict[str, str]) -> None:
        started = perf_counter()
        sandbox = self.sandbox
        raw_headers = scope["headers"]
        choice = negotiate(version_values(raw_headers), self.route.operations)
        operation = self.route.operations[choice.version]
        headers = {name.decode("latin-1").lower(): value.decode("latin-1").strip() for name, value in raw_headers}
        query_string = scope.get("query_string", b"").decode("latin-1")
        query = parse_query(query_string)
        body = None
        too_large = False
        if operation.body_schema is not None:
            try:
                body = await read_body(scope, receive)
            except BodyTooLarge:
                too_large = True
        validator = self.validators[choice.version]
        if operation.body_schema is None:
            checked = validator.check_without_body(query_string, path_params, query, headers)
        else:
            checked = validator.check(path_params, query, headers, body, headers.get("content-type"))
        if choice.violation is not None:
            # Left out, the rest was checked against the newest version, which is meaningful; a wrong version's
            # request was checked against another version's contract, so then only the version counts.
            others = [v for v in checked.violations if v.field != "header Version"]
            checked.violations = [choice.violation, *(others if choice.violation.rule == "required" else [])]
        if too_large:
            checked.violations.append(
                Violation(
                    "body", f"larger than {MAX_BODY_BYTES} bytes", operation.body_pointer or operation.pointer, "size"
                )
            )
        location_id = path_params.get("locationId") or next((v for k, v in query if k == "locationId"), None)
        view = view_for(choice.version)
        limit_headers: dict[str, str] = {}
        drift = sandbox.drift
        location: Location | None = None
        try:
            if drift:
                await drift.before(operation)
            location = self._serve(operation, checked, choice.problem, location_id, limit_headers)
            status, payload = self.handler(sandbox.phone_system, location, checked, view)
        except ApiError as error:
            status, payload = error.status, error.to_body()
            limit_headers.update(error.headers)
            # The traceback holds the frame that raised it, which holds the error: a cycle that only the garbage
            # collector would free. Cut here, it is freed at once (a refusal flood otherwise piles up in memory).
            error.__traceback__ = None
        except Exception as crash:
            # A crash is a sandbox bug: answer 500 in the vendor's shape, and keep it for the test that caused it.
            sandbox.crashes.append(crash)
            status, payload = 500, errors.error_for_status(500, "Internal server error").to_body()
        if drift:
            status, payload = drift.after(
                operation, status, payload, limit_headers, view, location, checked, sandbox.phone_system
            )
        try:
            body_bytes = dumps(payload)
        except TypeError as crash:  # an answer that cannot be written is a sandbox bug too
            sandbox.crashes.append(crash)
            status, body_bytes = 500, dumps(errors.error_for_status(500, "Internal server error").to_body())
        await send_raw_json(send, status, body_bytes, limit_headers)
        sandbox.journal.record(
            scope["method"],
            scope["path"],
            query_string,
            operation.operation_id,
            status,
            checked.violations,
            choice.version,
            elapsed_ms=(perf_counter() - started) * 1000,
            location_id=location.id if location else location_id,
            request=RequestDetails.bounded(checked.token, headers.get("version"), headers.get("content-type"), body),
        )

    def _serve(
        self,
        operation: OperationSpec,
        checked: CheckedRequest,
        problem: ApiError | None,
        location_id: str | None,
        limit_headers: dict[str, str],
    ) -> Location:
        """Every check before the handler, in the vendor's order; the location the request acts on."""
        sandbox = self.sandbox
        system = sandbox.phone_system
        token = None
        if problem is None:
            try:
                token = system.authenticate(checked.token)
            except ApiError as error:
                problem = error
        if sandbox.drift:
            token, problem = sandbox.drift.admit(token, problem, location_id, checked)
        # Counted per app and location (the token's own), so that no client-chosen value makes a new counter.
        verdict = sandbox.rate_limiter.hit(token.value if token else "", (token.location_id or "") if token else "")
        limit_headers.update(verdict.headers)
        if not verdict.allowed:
            raise errors.error_for_status(429, f"Too many requests. Retry after {verdict.retry_after} seconds.")
        if problem is not None:
            raise problem
        assert token is not None
        system.authorize(token, operation.scopes)
        if sandbox.drift:
            sandbox.drift.relax(operation, checked)
        if checked.violations:
            raise rejection_for(checked.violations)
        return system.location_for(token, location_id)


class ApiDispatcher:
    """Sends each request of a contract route to its gateway; anything else to `fallback` (the admin API, 404s).

    A known path asked with another method gets 405 with Allow (DECISIONS.md, D23).
    """

    def __init__(self, sandbox: Sandbox, fallback, on_unrouted) -> None:
        self.router = router()
        self.fallback = fallback
        self.on_unrouted = on_unrouted
        self.gateways = {(route.method, route.path): Gateway(sandbox, route) for route in self.router.routes}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            found = self.router.match(scope["method"], scope["path"])
            if found is not None:
                route, path_params = found
                await self.gateways[(route.method, route.path)](scope, receive, send, path_params)
                return
            allowed = self.router.methods_for(scope["path"])
            if allowed:
                await self.on_unrouted(scope, send, 405, {"Allow": ", ".join(allowed)})
                return
        await self.fallback(scope, receive, send)
