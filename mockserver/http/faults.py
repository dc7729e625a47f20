"""Faults on demand, applied to the API's requests by an ASGI middleware outside the app (never to the admin
API), so that a dropped connection really is one and a truncated body really is cut. The rules and their
counts are the control plane's (`mockserver.control.faults`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..contract.requests import Violation
from ..control.faults import FaultBook, FaultError, FaultRule
from ..errors import error_for_status, validation_error
from .rendering import send_json

FAULT_HEADER = b"x-lcphone-fault"
FAULTS_KEY = "lcphone.faults"  # in the ASGI scope: the faults injected into the request (latency, truncate)


class ConnectionDropped(ConnectionError):
    """Raised inside an in-process server to abort a connection on purpose."""


class QuietDroppedConnections(logging.Filter):
    """Keeps the server's log free of the tracebacks of connections dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


logging.getLogger("uvicorn.error").addFilter(QuietDroppedConnections())


class FaultMiddleware:
    """Applies faults to the API's requests (never to the admin API). A fault that answers for the API (a status,
    a dropped connection) is written to the journal through `record`; one that lets the request through
    (latency, a truncated body) is named in the scope (`FAULTS_KEY`), for the gateway's journal entry."""

    def __init__(self, app, book: FaultBook, operation_of, operations: list[str], record=None) -> None:
        self.app = app
        self.book = book
        self.operation_of = operation_of  # (method, path) -> operation id, or "*" for an unknown route
        self.operations = operations
        self.record = record or (lambda scope, operation_id, status, fault, violations=(): None)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__admin"):
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == FAULT_HEADER), None)
        rule, operation_id = None, "*"
        if header is not None or self.book.active:
            operation_id = self.operation_of(scope["method"], scope["path"])
            if header is not None:
                try:
                    rule = self.book.from_header(header.decode("latin-1"), operation_id, self.operations)
                except FaultError as error:
                    await self._refuse_header(error, operation_id, scope, send)
                    return
            if rule is None:
                rule = self.book.draw(operation_id)
        if rule is None:
            await self.app(scope, receive, send)
        else:
            await self._apply(rule, operation_id, scope, receive, send)

    async def _apply(self, rule: FaultRule, operation_id: str, scope, receive, send) -> None:
        if rule.latency_ms:
            scope[FAULTS_KEY] = (*scope.get(FAULTS_KEY, ()), "latency")
            await asyncio.sleep(rule.latency_ms / 1000)
        if rule.drop:
            self.record(scope, operation_id, None, "drop")
            await _drop_connection(scope, receive)
            return
        if rule.status is not None:
            injected = error_for_status(rule.status, f"Injected fault: status {rule.status}")
            # What a throttled or unavailable service says.
            headers = {"Retry-After": "1"} if rule.status in (429, 503) else None
            self.record(scope, operation_id, rule.status, "status")
            await send_json(send, rule.status, injected.to_body(), headers)
            return
        if rule.truncate:
            scope[FAULTS_KEY] = (*scope.get(FAULTS_KEY, ()), "truncate")
            await self._truncated(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _refuse_header(self, error: FaultError, operation_id: str, scope, send) -> None:
        """400 in the API's error shape, naming what the X-Lcphone-Fault header got wrong; in the journal."""
        refusal = validation_error([f"X-Lcphone-Fault: {problem}" for problem in error.problems])
        violation = Violation("header.X-Lcphone-Fault", "; ".join(error.problems), "#/x-lcphone-fault", "fault")
        self.record(scope, operation_id, 400, "", (violation,))
        await send_json(send, 400, refusal.to_body())

    async def _truncated(self, scope, receive, send) -> None:
        """Sends the real answer's headers (its full length declared) and half its body, then stops."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        await send(start)
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        transport = _transport(receive)
        if transport is not None:
            transport.abort()
            await asyncio.sleep(0)
            return
        raise ConnectionDropped(f"fault: body truncated after {len(body) // 2} of {len(body)} bytes")


def _transport(receive) -> Any:
    """The connection's transport, when the server is uvicorn (its `receive` is a method of the request cycle).

    Told apart by what it can do, not its class: uvloop's transports are not asyncio's classes.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    return transport if callable(getattr(transport, "abort", None)) else None


async def _drop_connection(scope, receive) -> None:
    """Closes the connection without a status line: what a client sees when a server or proxy dies mid-request."""
    transport = _transport(receive)
    if transport is None:
        raise ConnectionDropped(f"fault: connection dropped ({scope['method']} {scope['path']})")
    transport.abort()
    await asyncio.sleep(0)  # let the server see the connection close, so that it does not answer 500 into it
