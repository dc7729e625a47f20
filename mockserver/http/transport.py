"""In-process transports: call the sandbox's ASGI app from httpx without a socket, sync or async."""

from __future__ import annotations

import asyncio

import httpx

from .faults import ConnectionDropped


class SyncASGITransport(httpx.BaseTransport):
    """A synchronous httpx transport over an ASGI app, on a private event loop.

    httpx's own `ASGITransport` serves only `httpx.AsyncClient`; this one lets a
    plain `httpx.Client` (and so most synchronous client code) talk to the
    sandbox in-process. Not for use from inside a running event loop: there, use
    `httpx.ASGITransport` with an `AsyncClient`.
    """

    def __init__(self, app, *, raise_app_exceptions: bool = True, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions, client=client)
        self._loop: asyncio.AbstractEventLoop | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the ASGI transport wants an async stream: a read request has one
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._call(request))

    async def _call(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._asgi.handle_async_request(request)
        except ConnectionDropped as dropped:
            # What a client sees when a real server drops the connection (a fault asked for it).
            raise httpx.RemoteProtocolError(str(dropped), request=request) from None
        content = await response.aread()
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, extensions=response.extensions
        )

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()
