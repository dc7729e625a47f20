"""The API's operations on a fast path: a gateway per operation, as plain ASGI (the hot path skips Starlette).

A request travels: `ApiDispatcher` finds its operation (the operation registry is the router) -> its
`Gateway` reads the body -> the conformance check gives the verdict (which version, what is wrong) -> the
checks in the vendor's order (token, rate limit, scope, parameters and body, access to the location) -> the
operation's handler calls the domain -> the version's view renders the answer -> it is written, and recorded
in the journal. Drift modes hook in before, at the checks, and after (`Drift`); a crash is a 500 in the
vendor's shape, kept for the test that caused it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .. import errors
from ..contract.conformance import Conformance
from ..contract.operations import Operation
from ..contract.requests import MAX_BODY_BYTES, Violation
from ..control.exchange import Exchange
from ..control.journal import RequestDetails, unauthorized_note
from ..domain.models import Location
from ..errors import ApiError
from ..views import view_for
from .faults import FAULTS_KEY
from .handlers import HANDLERS
from .rendering import dumps, send_raw_json

if TYPE_CHECKING:
    from ..control.plane import ControlPlane


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The connection closed before the body was whole (the client left, or a stalled body was cut): no answer
    can reach it, and no verdict on half a body is recorded."""


async def read_body(scope: dict[str, Any], receive, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing to buffer more than `limit` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise BodyTooLarge
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
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


def internal_error() -> ApiError:
    return errors.error_for_status(500, "Internal server error")


class Gateway:
    """Serves one operation at every version that serves it."""

    def __init__(self, sandbox: ControlPlane, operation: Operation, conformance: Conformance) -> None:
        self.sandbox = sandbox
        self.operation = operation
        self.conformance = conformance
        self.handler = HANDLERS[operation.id]
        self.takes_body = operation.takes_body
        versions = sandbox.operations.versions
        self.views = {version: view_for(versions[version]) for version in operation.versions}
        # Each version's renderer of this operation, looked up once (a missing one fails here, at start).
        self.renderers = {version: view.renderers[operation.id] for version, view in self.views.items()}
        self.success = {
            version: int(spec.success.status) for version, spec in operation.versions.items() if spec.success
        }

    async def __call__(self, scope: dict[str, Any], receive, send, path_params: dict[str, str]) -> None:
        started = perf_counter()
        body, too_large = None, False
        if self.takes_body:
            try:
                body = await read_body(scope, receive)
            except BodyTooLarge:
                too_large = True
            except ClientGone:
                return
        query_string = scope.get("query_string", b"").decode("latin-1")
        verdict = self.conformance.check(self.operation, path_params, scope["headers"], query_string, body, too_large)
        version = verdict.version
        assert version is not None
        request = verdict.request
        exchange = Exchange(
            verdict, self.operation.versions[version], self.views[version], self.sandbox.phone_system, request,
            verdict.location_id,
        )  # fmt: skip
        exchange.problem = verdict.refusal
        await self._serve(exchange, version)
        try:
            written = dumps(exchange.payload)
        except TypeError as crash:  # an answer that cannot be written is a sandbox bug too
            self.sandbox.crashes.append(crash)
            exchange.status, written = 500, dumps(internal_error().to_body())
        await send_raw_json(send, exchange.status, written, exchange.headers)
        location, headers = exchange.location, verdict.headers
        sandbox = self.sandbox
        outcomes = sandbox.classifier.classify(
            self.operation.id,
            version,
            exchange.status,
            exchange.payload,
            request.params,
            request.body,
            exchange.location_id,
            scope.get(FAULTS_KEY, ()),
        )
        sandbox.journal.record(
            scope["method"],
            scope["path"],
            query_string,
            self.operation.id,
            exchange.status,
            request.violations,
            version,
            elapsed_ms=(perf_counter() - started) * 1000,
            location_id=location.id if location else exchange.location_id,
            request=RequestDetails.bounded(
                request.token, headers.get("version"), headers.get("content-type"), body, headers.get("x-lcphone-test")
            ),
            outcomes=outcomes,
            note=unauthorized_note(request.token) if "unauthorized" in outcomes else None,
        )

    async def _serve(self, exchange: Exchange, version: str) -> None:
        """The answer: the domain's, rendered by the version's view, or the refusal; then drift, if any."""
        sandbox = self.sandbox
        try:
            await sandbox.drift.before(exchange)
            result, refusal, commit = self._decide(exchange)
            if commit is not None:
                await commit  # a failed commit raises StoreUnavailable: 503, nothing acknowledged
            if refusal is not None:
                raise refusal
            exchange.result = result
            exchange.status = self.success[version]
            exchange.payload = self.renderers[version](exchange.view, result)
        except ApiError as error:
            exchange.status, exchange.payload = error.status, error.to_body()
            exchange.headers.update(error.headers)
            # The traceback holds the frame that raised it, which holds the error: a cycle that only the garbage
            # collector would free. Cut here, it is freed at once (a refusal flood otherwise piles up in memory).
            error.__traceback__ = None
        except Exception as crash:
            # A crash is a sandbox bug: answer 500 in the vendor's shape, and keep it for the test that caused it.
            sandbox.crashes.append(crash)
            exchange.status, exchange.payload = 500, internal_error().to_body()
        sandbox.drift.after(exchange)

    def _decide(self, exchange: Exchange) -> tuple[Any, ApiError | None, Awaitable[None] | None]:
        """The checks and the handler: the result or the refusal, and, where the store commits several requests
        together, the commit of every change the outcome depends on, to await before anything is answered (D52)."""
        result, refusal = None, None
        with exchange.system.store.grouped() as ticket:
            try:
                exchange.location = location = self._admit(exchange)
                result = self.handler(exchange.system, location, exchange.request)
            except ApiError as error:
                refusal = error
        return result, refusal, ticket.commit

    def _admit(self, exchange: Exchange) -> Location:
        """Every check before the handler, in the vendor's order; the location the request acts on."""
        sandbox = self.sandbox
        system = exchange.system
        if exchange.problem is None:
            try:
                exchange.token = system.authenticate(exchange.request.token)
            except ApiError as error:
                exchange.problem = error
        sandbox.drift.admit(exchange)
        token = exchange.token
        # The burst per token, the daily quota per the token's location (D22): no client-chosen value makes a
        # counter, and a request without a known token counts on none (it is a 401).
        limits = (
            sandbox.rate_limiter.hit(token.value, token.location_id) if token else sandbox.rate_limiter.hit(None, None)
        )
        exchange.headers.update(limits.headers)
        if not limits.allowed:
            raise errors.error_for_status(429, f"Too many requests. Retry after {limits.retry_after} seconds.")
        if exchange.problem is not None:
            raise exchange.problem
        assert token is not None
        system.authorize(token, exchange.spec.scopes)
        if exchange.request.violations:
            raise rejection_for(exchange.request.violations)
        return system.location_for(token, exchange.location_id)


class ApiDispatcher:
    """Sends each request of an operation to its gateway; anything else to `fallback` (the admin API, 404s).

    A known path asked with another method gets 405 with Allow (DECISIONS.md, D23).
    """

    def __init__(self, sandbox: ControlPlane, fallback, on_unrouted) -> None:
        self.operations = sandbox.operations
        self.fallback = fallback
        self.on_unrouted = on_unrouted
        self.conformance = Conformance(sandbox.operations)
        self.gateways = {operation.id: Gateway(sandbox, operation, self.conformance) for operation in self.operations}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            found = self.operations.match(scope["method"], scope["path"])
            if found is not None:
                operation, path_params = found
                await self.gateways[operation.id](scope, receive, send, path_params)
                return
            allowed = self.operations.methods_for(scope["path"])
            if allowed:
                await self.on_unrouted(scope, send, 405, {"Allow": ", ".join(allowed)})
                return
        await self.fallback(scope, receive, send)
