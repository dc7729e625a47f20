"""Every request the sandbox served, with the contract's verdict on it.

The pytest plugin reads it to fail a test whose client spoke outside the
contract; the admin API and the inspector page show it to anyone debugging a
client.

Bounded by construction: every field of an entry is cut to a fixed size, the
ring keeps at most `capacity` entries and `max_bytes` of them, and exchanges
that broke the contract (the request, or a real API's answer where one was
checked) are also kept apart (up to `violation_capacity`, with a count of any
beyond), so that a test's violation is never pushed out by the good requests
that follow it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..contract.requests import Violation

MAX_PATH = 512
MAX_QUERY = 1024
MAX_BODY = 4096
MAX_TOKEN = 128
MAX_FIELD = 120
MAX_MESSAGE = 300
MASK = "****"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"...(+{len(text) - limit})"


def _bounded(violation: Violation) -> Violation:
    if len(violation.field) <= MAX_FIELD and len(violation.message) <= MAX_MESSAGE:
        return violation
    return Violation(
        _cut(violation.field, MAX_FIELD), _cut(violation.message, MAX_MESSAGE), violation.pointer, violation.rule
    )


def mask(token: str | None) -> str | None:
    """A token shown without giving it away: its first four characters."""
    if not token:
        return token
    return token[:4] + MASK if len(token) > 8 else MASK


TOKENS_LISTED = "the sandbox's tokens are in its banner, at GET /__admin/locations and on the inspector page"


def unauthorized_note(token: str | None) -> str:
    """Why a 401 answered as the vendor does ("Invalid JWT") was given, which the vendor's answer never says."""
    if token:
        return f"unknown token: the sandbox knows no token {mask(token)}; {TOKENS_LISTED}"
    return f"no token: send Authorization: Bearer <token>; {TOKENS_LISTED}"


@dataclass(slots=True)  # made for every request: a frozen dataclass costs three times as much to build
class RequestDetails:
    """What it takes to replay a request: the headers that matter and the body, each cut to a fixed size."""

    token: str | None = None
    version: str | None = None
    content_type: str | None = None
    body: str | None = None
    test: str | None = None  # the test whose lcphone client sent it (X-Lcphone-Test), when one did

    @classmethod
    def bounded(
        cls,
        token: str | None,
        version: str | None,
        content_type: str | None,
        body: bytes | None,
        test: str | None = None,
    ) -> RequestDetails:
        # (Every request makes one: the cuts are asked for only where a value is too long.)
        text = body.decode("utf-8", "replace") if body else None
        return cls(
            (token if len(token) <= MAX_TOKEN else _cut(token, MAX_TOKEN)) if token else None,
            (version if len(version) <= 40 else _cut(version, 40)) if version else None,
            (content_type if len(content_type) <= 100 else _cut(content_type, 100)) if content_type else None,
            (text if len(text) <= MAX_BODY else _cut(text, MAX_BODY)) if text else None,
            test[:40] if test else None,
        )


@dataclass(frozen=True, slots=True)
class AnswerProblem:
    """One way an answer of a real API (seen by the proxy, or by the plugin's remote mode) broke the contract or
    the fidelity ledger."""

    verdict: str  # "vendor drift" or "fidelity gap"
    behaviour: str  # the ledger entry it breaks
    title: str
    expected: str  # what the contract (or the ledger) says
    found: str  # what the answer did

    @classmethod
    def bounded(cls, verdict: str, behaviour: str, title: str, expected: str, found: str) -> AnswerProblem:
        return cls(verdict, behaviour, _cut(title, MAX_MESSAGE), _cut(expected, MAX_MESSAGE), _cut(found, MAX_MESSAGE))

    def to_api(self) -> dict[str, str]:
        return {
            "verdict": self.verdict,
            "ledger": self.behaviour,
            "title": self.title,
            "expected": self.expected,
            "found": self.found,
        }

    def __str__(self) -> str:
        return f"{self.verdict}: {self.title}: {self.found} (ledger: {self.behaviour})"


@dataclass(frozen=True, slots=True)
class AnswerCheck:
    """The verdict on an answer: the problems found in it (none: it conforms)."""

    problems: tuple[AnswerProblem, ...] = ()

    @property
    def conforms(self) -> bool:
        return not self.problems

    def to_api(self) -> dict[str, Any]:
        return {"conforms": self.conforms, "problems": [problem.to_api() for problem in self.problems]}


@dataclass(slots=True)  # made for every request; never changed once recorded
class JournalEntry:
    sequence: int
    method: str
    path: str
    query: str
    operation_id: str | None
    status: int
    violations: tuple[Violation, ...]
    version: str | None = None  # the API version the request was served at
    at: float = 0.0  # when it was served (epoch seconds)
    elapsed_ms: float = 0.0
    location_id: str | None = None
    request: RequestDetails = field(default_factory=RequestDetails)
    outcomes: tuple[str, ...] = ()  # what the answer was (`success`, `sold`, `no-match`...), and faults injected
    answer: AnswerCheck | None = None  # a real API's answer, checked (the proxy, the plugin's remote mode)
    note: str | None = None  # why an answer that kept the contract may still surprise (an unknown token...)

    @property
    def conforms(self) -> bool:
        """Whether the request kept the contract (the answer's verdict is `answer`)."""
        return not self.violations

    @property
    def broken(self) -> bool:
        """Whether either side broke the contract: the request, or a real API's answer."""
        return bool(self.violations) or (self.answer is not None and not self.answer.conforms)

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")

    @property
    def size(self) -> int:
        """About how many bytes the entry holds in memory (its text, and what each Python object costs)."""
        request = self.request
        size = 700 + len(self.path) + len(self.query) + len(request.body or "") + len(request.token or "")
        for violation in self.violations:
            size += len(violation.field) + len(violation.message) + len(violation.pointer) + 300
        if self.answer is not None:
            for problem in self.answer.problems:
                size += len(problem.title) + len(problem.expected) + len(problem.found) + 400
        return size

    def to_api(self, show_token: bool = False) -> dict[str, Any]:
        request = self.request
        found = {
            "sequence": self.sequence,
            "at": self.at,
            "elapsedMs": round(self.elapsed_ms, 3),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operationId": self.operation_id,
            "version": self.version,
            "locationId": self.location_id,
            "status": self.status,
            "conforms": self.conforms,
            "outcomes": list(self.outcomes),
            "violations": [
                {"field": v.field, "message": v.message, "rule": v.rule, "contract": v.pointer} for v in self.violations
            ],
            "request": {
                "token": request.token if show_token else mask(request.token),
                "version": request.version,
                "contentType": request.content_type,
                "body": request.body,
            },
        }
        if self.answer is not None:
            found["answer"] = self.answer.to_api()
        if self.note:
            found["note"] = self.note
        return found


class Journal:
    def __init__(
        self,
        capacity: int = 10_000,
        max_bytes: int = 16 * 1024 * 1024,
        violation_capacity: int = 10_000,
        max_violation_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.violation_capacity = violation_capacity
        self.max_violation_bytes = max_violation_bytes
        self._entries: deque[JournalEntry] = deque()
        self._violations: deque[JournalEntry] = deque()
        self._dropped: deque[int] = deque(maxlen=100_000)  # the sequences of violating entries not kept
        self._lock = threading.Lock()
        self._sequence = 0
        self._bytes = self._violation_bytes = 0
        self.violations_dropped = 0  # violating requests past the bounds since the last clear

    def record(
        self,
        method: str,
        path: str,
        query: str,
        operation_id: str | None,
        status: int,
        violations: list[Violation] | tuple[Violation, ...],
        version: str | None = None,
        *,
        elapsed_ms: float = 0.0,
        location_id: str | None = None,
        request: RequestDetails | None = None,
        outcomes: tuple[str, ...] = (),
        answer: AnswerCheck | None = None,
        note: str | None = None,
    ) -> JournalEntry:
        with self._lock:
            self._sequence += 1
            entry = JournalEntry(
                self._sequence,
                method,
                path if len(path) <= MAX_PATH else _cut(path, MAX_PATH),
                query if len(query) <= MAX_QUERY else _cut(query, MAX_QUERY),
                operation_id,
                status,
                tuple(map(_bounded, violations[:20])) if violations else (),
                version,
                time.time(),
                elapsed_ms,
                _cut(location_id, 64) if location_id else None,
                request or RequestDetails(),
                outcomes,
                AnswerCheck(answer.problems[:20]) if answer is not None and len(answer.problems) > 20 else answer,
                note,
            )
            self._entries.append(entry)
            self._bytes += entry.size
            while self._entries and (len(self._entries) > self.capacity or self._bytes > self.max_bytes):
                self._bytes -= self._entries.popleft().size
            if entry.violations or (answer is not None and answer.problems):
                self._keep_violation(entry)
            return entry

    def _keep_violation(self, entry: JournalEntry) -> None:
        """Kept apart, bounded in entries and in bytes; the sequences of those pushed out are counted."""
        violations = self._violations
        violations.append(entry)
        self._violation_bytes += entry.size
        while len(violations) > self.violation_capacity or self._violation_bytes > self.max_violation_bytes:
            dropped = violations.popleft()
            self._violation_bytes -= dropped.size
            self.violations_dropped += 1
            self._dropped.append(dropped.sequence)

    def entries(
        self, after: int = 0, limit: int | None = None, violations_only: bool = False, first: bool = False
    ) -> list[JournalEntry]:
        """Entries with a sequence number above `after`, oldest first: the newest `limit` of them, or with
        `first`, the oldest `limit` (a page after `after`)."""
        with self._lock:
            source = self._violations if violations_only else self._entries
            found: list[JournalEntry] = []
            for entry in reversed(source):  # the newest first: what follows a mark is at the end
                if entry.sequence <= after:
                    break
                found.append(entry)
        found.reverse()
        if limit:
            return found[:limit] if first else found[-limit:]
        return found

    def violations_since(self, mark: int) -> list[JournalEntry]:
        """Every exchange after `mark` that broke the contract (its request, or a real API's answer), however
        many good ones came after it."""
        return self.entries(after=mark, violations_only=True)

    def dropped_since(self, mark: int) -> int:
        """How many requests after `mark` that broke the contract were not kept (past the bounds)."""
        with self._lock:
            count = 0
            for sequence in reversed(self._dropped):
                if sequence <= mark:
                    break
                count += 1
            return count

    @property
    def last_sequence(self) -> int:
        return self._sequence

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._violations.clear()
            self._dropped.clear()
            self._bytes = self._violation_bytes = 0
            self.violations_dropped = 0

    def __len__(self) -> int:
        return len(self._entries)
