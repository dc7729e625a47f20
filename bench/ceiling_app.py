"""The ceiling: a bare Starlette app on the same server stack as lcphone, answering each benchmark request with
lcphone's own answer (bench/stubs/bodies) and doing nothing else: no validation, no state, no journal."""

from pathlib import Path

from operations import OPERATIONS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODIES = Path(__file__).resolve().parent / "stubs" / "bodies"
ANSWERS = {
    (op.method, op.route, op.version): (op.status, (BODIES / f"{op.key}.json").read_bytes()) for op in OPERATIONS
}


async def fixed(request: Request) -> Response:
    status, body = ANSWERS[(request.method, request.url.path, request.headers.get("version", "v3"))]
    return Response(body, status_code=status, media_type="application/json")


app = Starlette(routes=[Route(route, fixed, methods=["GET", "POST"]) for route in {op.route for op in OPERATIONS}])
