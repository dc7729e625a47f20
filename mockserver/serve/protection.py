"""Connection limits for `lcphone serve`: a cap on open connections, and a deadline for a request's headers.

uvicorn keeps a connection that never sends a request open forever, and has no
deadline for headers sent one byte at a time (slowloris): a few thousand idle
sockets exhaust the process's file descriptors. `GuardedProtocol` (uvicorn's own
httptools protocol, extended) caps the open connections and closes one whose
request headers are not complete within the header timeout, counted from the
connection's start and from the start of each request on a kept-alive connection.

At the cap, a new connection does not simply lose to the ones that hold the
places: the oldest connection that has never completed a request (what an
attacker holds; a client's kept-alive connection has completed some) is closed
to make room. Only when every place holds a working connection is the newcomer
answered 503 and closed.

The limits are module settings (`configure`), so that the class can travel by
name to worker processes, which configure it from the same settings.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_KEEP_ALIVE_TIMEOUT = 5.0

LIMITS = {"max_connections": DEFAULT_MAX_CONNECTIONS, "header_timeout": DEFAULT_HEADER_TIMEOUT}


def configure(max_connections: int, header_timeout: float) -> None:
    LIMITS.update(max_connections=max_connections, header_timeout=header_timeout)


def _refusal() -> bytes:
    body = orjson.dumps(
        {"statusCode": 503, "message": "Too many open connections; retry later.", "error": "Service Unavailable"}
    )
    head = (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


REFUSAL = _refusal()

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: plain uvicorn, without these limits
    GuardedProtocol: type[asyncio.Protocol] | None = None
else:

    class _GuardedProtocol(HttpToolsProtocol):
        # One timer per connection, not per request: it checks when the headers under way started, and waits
        # again for what is left (a timer made and cancelled for every request costs more than the check).
        _deadline: asyncio.TimerHandle | None = None
        _headers_since: float | None = None  # when the request whose headers are awaited started
        _answered = 0  # requests this connection has had answered
        _opened = 0.0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._opened = self._headers_since = self.loop.time()
            if len(self.connections) > LIMITS["max_connections"] and not self._make_room():
                transport.write(REFUSAL)
                transport.close()
                return
            self._wait(LIMITS["header_timeout"])

        def _make_room(self) -> bool:
            """Closes the oldest connection that never completed a request and has none under way."""
            waiting: list[_GuardedProtocol] = []
            for connection in self.connections:
                if not isinstance(connection, _GuardedProtocol) or connection is self:
                    continue
                if not connection._answered and connection.cycle is None:
                    waiting.append(connection)
            if not waiting:
                return False
            oldest = min(waiting, key=lambda c: c._opened)
            oldest._disarm()
            oldest.transport.close()
            self.connections.discard(oldest)
            return True

        def on_response_complete(self) -> None:
            self._answered += 1
            super().on_response_complete()

        def _wait(self, seconds: float) -> None:
            self._deadline = self.loop.call_later(seconds, self._check_headers)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _check_headers(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            timeout = LIMITS["header_timeout"]
            since = self._headers_since
            if since is not None and self.loop.time() - since >= timeout:
                self.transport.close()  # headers too slow: slowloris, or a connection that never asks
                return
            self._wait(timeout if since is None else since + timeout - self.loop.time())

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._headers_since = self.loop.time()

        def on_headers_complete(self) -> None:
            self._headers_since = None
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    GuardedProtocol = _GuardedProtocol
