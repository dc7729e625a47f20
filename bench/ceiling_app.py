"""The ceiling: a bare Starlette app that answers a fixed JSON body (of CEILING_BODY_BYTES bytes) to any GET."""

import os

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

_SIZE = int(os.environ.get("CEILING_BODY_BYTES", "1000"))
BODY = b'{"x":"' + b"a" * max(0, _SIZE - 8) + b'"}'


async def fixed(request):
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", fixed)])
