"""The ASGI application of a sandbox: the contract's operations on a fast path, the admin API on Starlette,
faults around both, CORS around all when asked for.

StoreSync -> FaultMiddleware -> ApiDispatcher -> a Gateway per operation
                                              -> Starlette (the admin API, the inspector, unknown paths)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .. import errors
from ..contract.requests import route_violation
from ..domain.store import CAUGHT_UP
from ..errors import ApiError, StoreUnavailable, quoted
from .admin import ADMIN_PREFIX, admin_routes
from .cors import with_cors
from .faults import FaultMiddleware
from .gateway import ApiDispatcher, internal_error
from .rendering import error_response, send_json

if TYPE_CHECKING:
    from ..control.plane import ControlPlane


class StoreSync:
    """Before each request, picks up what other processes sharing the store changed (one cheap check); the
    request's reads then need no check of their own (`CAUGHT_UP`)."""

    def __init__(self, app, sandbox: ControlPlane) -> None:
        self.app = app
        self.sandbox = sandbox
        self.others_change_it = sandbox.store.persistent  # other processes may change the store (memory: none)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and self._caught_up():
            caught_up = CAUGHT_UP.set(True)
            try:
                await self.app(scope, receive, send)
            finally:
                CAUGHT_UP.reset(caught_up)
            return
        await self.app(scope, receive, send)

    def _caught_up(self) -> bool:
        """Picks up what other processes changed; whether the request's reads may rely on it (only a store that
        others change needs telling)."""
        try:
            self.sandbox.sync()
        except StoreUnavailable:
            return False  # served with the settings last read; what needs the store answers 503 itself
        return self.others_change_it


def create_app(sandbox: ControlPlane):
    def route_error(method: str, path: str, query: bytes, status: int) -> ApiError:
        # An unknown path: 404 "Cannot METHOD /path", the NestJS wording. A known path with another
        # method: 405 with Allow, in the same shape (DECISIONS.md, D23).
        if not path.startswith(ADMIN_PREFIX):
            sandbox.journal.record(method, path, query.decode("latin-1"), None, status, [route_violation(method, path)])
        return errors.error_for_status(status, f"Cannot {method} {quoted(path)[1:-1]}")

    async def unrouted(scope, send, status: int, headers: dict[str, str]) -> None:
        error = route_error(scope["method"], scope["path"], scope.get("query_string", b""), status)
        await send_json(send, status, error.to_body(), headers)

    async def no_route(request: Request, exc: Exception) -> Response:
        status = 405 if isinstance(exc, HTTPException) and exc.status_code == 405 else 404
        scope = request.scope
        headers = exc.headers if isinstance(exc, HTTPException) else None
        return error_response(
            route_error(scope["method"], scope["path"], scope.get("query_string", b""), status), headers
        )

    async def crash(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ApiError):  # the store unavailable (503) under a page that is not the admin API's
            return error_response(exc)
        # A crash is a sandbox bug: answer in the vendor's shape and keep it for the test that caused it.
        sandbox.crashes.append(exc)
        return error_response(internal_error())

    admin = Starlette(routes=admin_routes(sandbox), exception_handlers={404: no_route, 405: no_route, Exception: crash})
    admin.state.sandbox = sandbox
    # No redirects to the slash-less path: they are not in the contract (and Starlette's breaks on a
    # query string that is not UTF-8). A trailing slash is an unknown path.
    admin.router.redirect_slashes = False

    operations = sandbox.operations

    def operation_of(method: str, path: str) -> str:
        found = operations.match(method, path)
        return found[0].id if found else "*"

    dispatcher = ApiDispatcher(sandbox, admin, unrouted)

    def record_fault(scope, operation_id: str, status: int | None, fault: str, violations=()) -> None:
        """An injected fault that answered for the API, or a fault header refused, in the journal (its request was
        not checked)."""
        query = scope.get("query_string", b"").decode("latin-1")
        verdict = dispatcher.conformance.verdict(scope["method"], scope["path"], query, scope["headers"])
        outcomes = sandbox.classifier.classify(operation_id, verdict.version, status, faults=(fault,) if fault else ())
        sandbox.journal.record(
            scope["method"], scope["path"], query, operation_id, status or 0, violations, verdict.version,
            location_id=verdict.location_id, outcomes=outcomes,
        )  # fmt: skip

    faulty = FaultMiddleware(dispatcher, sandbox.faults, operation_of, operations.ids, record_fault)
    app = StoreSync(faulty, sandbox)
    return with_cors(app, sandbox.cors_origins) if sandbox.cors_origins else app
