"""The Starlette application: the contract's operations, the admin API, and errors in the vendor's shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from . import errors
from .admin import ADMIN_PREFIX, admin_routes
from .api import api_routes
from .faults import FaultMiddleware
from .rendering import query_text, error_response
from .request_validation import route_violation

if TYPE_CHECKING:
    from .sandbox import Sandbox


def create_app(sandbox: Sandbox) -> FaultMiddleware:
    async def no_route(request: Request, exc: HTTPException) -> Response:
        # An unknown path: 404 "Cannot METHOD /path", the NestJS wording. A known path with another
        # method: 405 with Allow, in the same shape (DECISIONS.md, D23).
        path = request.scope['path']
        status = exc.status_code if exc.status_code == 405 else 404
        if not path.startswith(ADMIN_PREFIX):
            sandbox.journal.record(request.method, path, query_text(request), None, status, [route_violation(request.method, path)])
        return error_response(errors.error_for_status(status, f"Cannot {request.method} {path}"), exc.headers)

    async def crash(request: Request, exc: Exception) -> Response:
        # A crash is a sandbox bug: answer in the vendor's shape and keep it for the test that caused it.
        sandbox.crashes.append(exc)
        return error_response(errors.error_for_status(500, "Internal server error"))

    app = Starlette(
        routes=[*api_routes(sandbox), *admin_routes(sandbox)],
        exception_handlers={404: no_route, 405: no_route, Exception: crash},
    )
    app.state.sandbox = sandbox
    # No redirects to the slash-less path: they are not in the contract (and Starlette's breaks on a
    # query string that is not UTF-8). A trailing slash is an unknown path.
    app.router.redirect_slashes = False
    return FaultMiddleware(app, sandbox.faults, sandbox.contract)
