"""Connection limits for `lcphone serve`: a cap on open connections, deadlines for a request's headers and body,
and a bound on the size of its headers.

uvicorn keeps a connection that never sends a request open forever, has no
deadline for headers sent one byte at a time (slowloris) nor for a body that
never ends, and buffers headers of any size. `GuardedProtocol` (uvicorn's own
httptools protocol, extended) caps the open connections; closes one whose
request headers are not complete within the header timeout (counted from the
connection's start and from the start of each request on a kept-alive
connection); answers 408 to a request whose body is not complete within the
body timeout; and answers 431 to headers past `max_header_bytes`, feeding the
parser no more than that, so that memory stays bounded while refusing.

At the cap, a new connection does not lose to the ones that hold the places:
the connection that has been sending its request (headers or body) the longest
is closed to make room, then one that is idle between requests. A client that
never finishes its request never blocks one that does. Only when every place
holds a request that has arrived and is being answered is the newcomer
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
DEFAULT_BODY_TIMEOUT = 10.0
DEFAULT_KEEP_ALIVE_TIMEOUT = 5.0
DEFAULT_MAX_HEADER_BYTES = 16 * 1024  # the request line and headers together, as Node.js and h11 bound them

LIMITS: dict[str, Any] = {
    "max_connections": DEFAULT_MAX_CONNECTIONS,
    "header_timeout": DEFAULT_HEADER_TIMEOUT,
    "body_timeout": DEFAULT_BODY_TIMEOUT,
    "max_header_bytes": DEFAULT_MAX_HEADER_BYTES,
}


def configure(**limits: Any) -> None:
    unknown = set(limits) - set(LIMITS)
    if unknown:
        raise TypeError(f"unknown limits: {', '.join(sorted(unknown))}")
    LIMITS.update(limits)


def _answer(status: int, reason: str, message: str, retry_after: bool = False) -> bytes:
    """A whole HTTP answer in the API's error shape, written by the protocol itself (no app runs), then closed."""
    body = orjson.dumps({"statusCode": status, "message": message, "error": reason})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n".encode()
        + (b"retry-after: 1\r\n" if retry_after else b"")
        + b"connection: close\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    return head + body


def _refusal() -> bytes:
    return _answer(503, "Service Unavailable", "Too many open connections; retry later.", retry_after=True)


def headers_too_large() -> bytes:
    limit = LIMITS["max_header_bytes"]
    return _answer(
        431,
        "Request Header Fields Too Large",
        f"The request line and headers are larger than {limit} bytes (--max-header-bytes).",
    )


def body_too_slow() -> bytes:
    seconds = LIMITS["body_timeout"]
    return _answer(408, "Request Timeout", f"The request body did not arrive within {seconds:g} s (--body-timeout).")


REFUSAL = _refusal()

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: plain uvicorn, without these limits
    GuardedProtocol: type[asyncio.Protocol] | None = None
else:

    class _GuardedProtocol(HttpToolsProtocol):
        # One timer per connection, not per request: it checks when the headers or the body under way started,
        # and waits again for what is left (a timer made and cancelled for every request costs more than the check).
        _deadline: asyncio.TimerHandle | None = None
        _headers_since: float | None = None  # when the request whose headers are awaited started
        _body_since: float | None = None  # when the headers of a request whose body is still arriving completed
        _header_bytes = 0  # bytes fed to the parser while awaiting the current request's headers
        _refused = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._headers_since = self.loop.time()
            if len(self.connections) > LIMITS["max_connections"] and not self._make_room():
                transport.write(REFUSAL)
                transport.close()
                return
            self._wait(LIMITS["header_timeout"])

        def _sending_since(self) -> float | None:
            """When the request this connection is still sending began (None: it sends none)."""
            return self._body_since if self._body_since is not None else self._headers_since

        def _make_room(self) -> bool:
            """Closes the connection slowest to send its request; else one idle between requests."""
            slowest: _GuardedProtocol | None = None
            idle: _GuardedProtocol | None = None
            for connection in self.connections:
                if not isinstance(connection, _GuardedProtocol) or connection is self:
                    continue
                if connection.transport is None or connection.transport.is_closing():
                    continue
                since = connection._sending_since()
                if since is not None:
                    if slowest is None or since < slowest._sending_since():  # type: ignore[operator]
                        slowest = connection
                elif idle is None and (connection.cycle is None or connection.cycle.response_complete):
                    idle = connection
            chosen = slowest or idle
            if chosen is None:
                return False  # every place holds a request that has arrived and is being answered
            chosen._disarm()
            chosen.transport.close()
            self.connections.discard(chosen)
            return True

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._headers_since is None:  # in a body, or between requests: fed as uvicorn feeds it
                super().data_received(data)
                return
            room = LIMITS["max_header_bytes"] - self._header_bytes
            if len(data) <= room:
                self._header_bytes += len(data)
                super().data_received(data)
                if self._body_since is not None:
                    self._mind_the_body()
                return
            # More than the headers may hold: the parser gets what fits, and the rest only if they are complete.
            if room > 0:
                self._header_bytes += room
                super().data_received(data[:room])
            if self._headers_since is not None:
                self._refuse(headers_too_large())
            elif not self.transport.is_closing():
                self.data_received(data[max(room, 0) :])

        def _mind_the_body(self) -> None:
            """A body is on its way: the timer must fire by its deadline (it may be set for a later one)."""
            due = self._body_since + LIMITS["body_timeout"]
            if self._deadline is None or self._deadline.when() > due:
                self._disarm()
                self._wait(max(due - self.loop.time(), 0.0))

        def _refuse(self, answer: bytes) -> None:
            self._refused = True
            self._disarm()
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(answer)
            self.transport.close()

        def _wait(self, seconds: float) -> None:
            self._deadline = self.loop.call_later(seconds, self._check)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _check(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            now, waits = self.loop.time(), []
            if self._headers_since is not None:
                left = self._headers_since + LIMITS["header_timeout"] - now
                if left <= 0:
                    self.transport.close()  # headers too slow: slowloris, or a connection that never asks
                    return
                waits.append(left)
            if self._body_since is not None:
                left = self._body_since + LIMITS["body_timeout"] - now
                if left <= 0:
                    self._refuse(body_too_slow())  # a body trickled, or a chunked one that never ends
                    return
                waits.append(left)
            self._wait(min(waits) if waits else LIMITS["header_timeout"])

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._headers_since = self.loop.time()
            self._header_bytes = 0

        def on_headers_complete(self) -> None:
            self._headers_since = None
            self._body_since = self.loop.time()  # cleared at once by on_message_complete when there is no body
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._body_since = None
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    GuardedProtocol = _GuardedProtocol
