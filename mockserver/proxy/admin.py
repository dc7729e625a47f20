"""The proxy's admin surface: health, the journal (both verdicts of each exchange), the contract coverage of the
traffic, the inspector page and the contracts, under the sandbox's access rules (`http/admin_access`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import errors
from ..contract.coverage import CoverageReport
from ..http.admin import journal_page
from ..http.admin_access import AdminAccess, guarded_by
from ..http.inspector import page_routes
from ..http.rendering import error_response, json_response
from .inspector import ProxyInspector

if TYPE_CHECKING:
    from .app import Proxy

ADMIN_PATHS = ("/__admin/", "/favicon.ico", "/openapi.json", "/openapi.yaml")


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
    access = AdminAccess(proxy)
    routes = [Route(path, endpoint=guarded_by(access, endpoint), methods=[method]) for path, endpoint, method in table]
    routes += page_routes(ProxyInspector(proxy, access), access)  # the page, its form, the contracts
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.router.redirect_slashes = False
    return app
