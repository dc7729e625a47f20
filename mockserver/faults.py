"""Faults on demand, for testing a client's retries and timeouts.

A fault rule says which operation it hits (or `*`), what it does (added latency,
a given status, a dropped connection, a truncated body) and how often (the next
N calls, or a share of calls, drawn from a seeded random source so that runs
repeat). Rules come from the admin API, the CLI (`--fault`), or one request's
`X-Lcphone-Fault` header. Applied by an ASGI middleware, outside the app, so
that a dropped connection really is one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

from .contract import Contract
from .errors import error_for_status

FAULT_HEADER = "x-lcphone-fault"
_KINDS = ("latencyMs", "status", "drop", "truncate")


class FaultError(ValueError):
    """A fault rule that cannot be understood; `problems` names each field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ConnectionDropped(ConnectionError):
    """Raised inside the server to abort a connection on purpose."""


class QuietDroppedConnections(logging.Filter):
    """Keeps the server's log free of the tracebacks of connections dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


logging.getLogger("uvicorn.error").addFilter(QuietDroppedConnections())


@dataclass
class FaultRule:
    operation_id: str = "*"
    latency_ms: int = 0
    status: int | None = None
    drop: bool = False
    truncate: bool = False
    times: int | None = None  # the next N matching calls, then the rule is spent
    ratio: float | None = None  # or a share of matching calls (0..1)
    id: int = 0
    hits: int = 0

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "operationId": self.operation_id, "latencyMs": self.latency_ms, "status": self.status,
                "drop": self.drop, "truncate": self.truncate, "times": self.times, "ratio": self.ratio,
                "hits": self.hits}

    @classmethod
    def from_api(cls, data: Any, operations: list[str]) -> FaultRule:
        if not isinstance(data, dict):
            raise FaultError(["fault: expected a JSON object"])
        problems = []
        known = {"operationId", "latencyMs", "status", "drop", "truncate", "times", "ratio"}
        problems += [f"{key}: unknown field (known: {', '.join(sorted(known))})" for key in data if key not in known]
        operation = data.get("operationId", "*")
        if operation != "*" and operation not in operations:
            problems.append(f"operationId: {operation!r} is not an operation of the contract ({', '.join(operations)} or *)")
        latency = data.get("latencyMs", 0)
        if not isinstance(latency, int) or isinstance(latency, bool) or not 0 <= latency <= 120_000:
            problems.append("latencyMs: expected a whole number of milliseconds, 0 to 120000")
        status = data.get("status")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599):
            problems.append("status: expected an HTTP error status, 400 to 599")
        for flag in ("drop", "truncate"):
            if not isinstance(data.get(flag, False), bool):
                problems.append(f"{flag}: expected true or false")
        times, ratio = data.get("times"), data.get("ratio")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            problems.append("times: expected a whole number, 1 or more")
        if ratio is not None and (not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not 0 < ratio <= 1):
            problems.append("ratio: expected a share of calls, more than 0 and at most 1")
        if times is not None and ratio is not None:
            problems.append("times, ratio: give one or the other")
        if not problems and not (latency or status or data.get("drop") or data.get("truncate")):
            problems.append("fault: say what it does: latencyMs, status, drop or truncate")
        if problems:
            raise FaultError(problems)
        return cls(operation, latency, status, bool(data.get("drop")), bool(data.get("truncate")), times,
                   float(ratio) if ratio is not None else None)

    @classmethod
    def from_spec(cls, spec: str, operations: list[str]) -> FaultRule:
        """`[OPERATION:]key=value,...`, e.g. `purchaseNumber:status=503,times=2` or `latencyMs=200,ratio=0.5`."""
        operation, _, settings = spec.rpartition(":") if ":" in spec else ("*", "", spec)
        data: dict[str, Any] = {"operationId": operation or "*"}
        for item in filter(None, (part.strip() for part in settings.split(","))):
            key, _, value = item.partition("=")
            key = {"latency": "latencyMs"}.get(key, key)
            if not value and key in ("drop", "truncate"):
                data[key] = True
            elif value.lower() in ("true", "false"):
                data[key] = value.lower() == "true"
            else:
                try:
                    data[key] = int(value)
                except ValueError:
                    try:
                        data[key] = float(value)
                    except ValueError:
                        raise FaultError([f"{key}: {value!r} is not a number"]) from None
        return cls.from_api(data, operations)


@dataclass
class FaultBook:
    """The fault rules in force, applied in order; the first that fires wins."""

    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._next_id = 0

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._next_id += 1
            rule.id = self._next_id
            self.rules.append(rule)
            return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self._random = random.Random(self.seed)

    def draw(self, operation_id: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.operation_id not in ("*", operation_id):
                    continue
                if rule.ratio is not None and self._random.random() >= rule.ratio:
                    continue
                rule.hits += 1
                if rule.times is not None and rule.hits >= rule.times:
                    self.rules.remove(rule)
                return rule
        return None


class FaultMiddleware:
    """Applies faults to the API's requests (never to the admin API)."""

    def __init__(self, app, book: FaultBook, contract: Contract) -> None:
        self.app = app
        self.book = book
        self.contract = contract
        self._operations = list(contract.operations)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__admin"):
            await self.app(scope, receive, send)
            return
        rule = self._from_header(scope)
        if rule is None and self.book.rules:
            operation = self.contract.match(scope["method"], scope["path"])
            rule = self.book.draw(operation.operation_id if operation else "*")
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.latency_ms:
            await asyncio.sleep(rule.latency_ms / 1000)
        if rule.drop:
            # ASGI has no "abort": start an answer, then fail, and the server closes the connection mid-answer
            # (failing before the start would make it answer 500 instead).
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")]})
            raise ConnectionDropped(f"fault: connection dropped ({scope['method']} {scope['path']})")
        if rule.status is not None:
            body = orjson.dumps(error_for_status(rule.status, f"Injected fault: status {rule.status}").to_body())
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            if rule.status in (429, 503):
                headers.append((b"retry-after", b"1"))  # what a throttled or unavailable service says
            await send({"type": "http.response.start", "status": rule.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if rule.truncate:
            await self._truncated(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _from_header(self, scope) -> FaultRule | None:
        for name, value in scope["headers"]:
            if name == FAULT_HEADER.encode():
                try:
                    return FaultRule.from_spec(value.decode("latin-1"), self._operations)
                except FaultError:
                    return None  # a bad fault header is ignored: the request itself is served
        return None

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
        raise ConnectionDropped(f"fault: body truncated after {len(body) // 2} of {len(body)} bytes")
