"""How answers are written: compact JSON in a fixed key order, straight onto ASGI or as a Starlette response."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from ..errors import ApiError


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


def error_response(error: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(error.status, error.to_body(), {**(headers or {}), **error.headers})


dumps = orjson.dumps


@functools.lru_cache(maxsize=64)
def _header_name(name: str) -> bytes:
    return name.lower().encode("latin-1")


async def send_json(send, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
    """A JSON answer straight onto an ASGI `send`, for the hot path that skips Starlette."""
    await send_raw_json(send, status, orjson.dumps(payload), headers)


async def send_raw_json(send, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
    """Serialized JSON straight onto an ASGI `send`."""
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if headers:
        raw += [(_header_name(name), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
