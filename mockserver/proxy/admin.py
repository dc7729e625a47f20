"""The proxy's admin surface: health, the journal (both verdicts of each exchange), the contract coverage of the
traffic, the inspector page and the contracts, under the sandbox's access rules (`http/admin_access`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import errors
from ..contract.coverage import CoverageReport
from ..errors import ApiError
from ..http.admin import journal_page
from ..http.admin_access import ADMIN_KEY_HEADER, cross_origin, key_accepted, other_origin_refused
from ..http.inspector import UI_PATH
from ..http.rendering import error_response, json_response
from .inspector import ProxyInspector

if TYPE_CHECKING:
    from .app import Proxy

ADMIN_PATHS = ("/__admin/", "/favicon.ico", "/openapi.json", "/openapi.yaml")


def _guarded(proxy: Proxy, endpoint: Callable[[Request], Awaitable[Response]]):
    async def guarded(request: Request) -> Response:
        try:
            if cross_origin(request):
                raise other_origin_refused("The admin API")
            if not key_accepted(proxy.admin_key, request):
                raise errors.ApiError(401, f"The admin API needs the {ADMIN_KEY_HEADER} header.", "Unauthorized")
            return await endpoint(request)
        except ApiError as error:
            return error_response(error)

    return guarded


def admin_app(proxy: Proxy) -> Starlette:
    async def health(request: Request) -> Response:
        return json_response(200, proxy.health())

    async def journal(request: Request) -> Response:
        return json_response(200, journal_page(proxy.journal, request.url.query))

    async def clear_journal(request: Request) -> Response:
        proxy.journal.clear()
        return json_response(200, {"status": "cleared"})

    async def coverage(request: Request) -> Response:
        report = CoverageReport.of_journal(proxy.journal.entries(), proxy.classifier.catalogue)
        return json_response(200, report.to_json())

    async def not_found(request: Request, exc: Exception) -> Response:
        scope = request.scope
        return error_response(errors.not_found(f"Cannot {scope['method']} {scope['path']}"))

    table = [
        ("/__admin/health", health, "GET"),
        ("/__admin/journal", journal, "GET"),
        ("/__admin/journal", clear_journal, "DELETE"),
        ("/__admin/coverage", coverage, "GET"),
    ]
    inspector = ProxyInspector(proxy)
    table += [
        ("/__admin/contracts", inspector.contracts, "GET"),
        ("/__admin/contracts/{name}", inspector.contract, "GET"),
    ]
    routes = [Route(path, endpoint=_guarded(proxy, endpoint), methods=[method]) for path, endpoint, method in table]
    routes += [  # the page and its key form handle access themselves, as the sandbox's do
        Route(UI_PATH, endpoint=inspector.page, methods=["GET"]),
        Route(f"{UI_PATH}/session", endpoint=inspector.session, methods=["POST"]),
        Route("/openapi.json", endpoint=inspector.openapi, methods=["GET"]),
        Route("/openapi.yaml", endpoint=inspector.openapi, methods=["GET"]),
        Route("/favicon.ico", endpoint=inspector.favicon, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.router.redirect_slashes = False
    return app
