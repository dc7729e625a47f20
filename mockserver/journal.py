"""Every request the sandbox served, with the contract's verdict on it.

The pytest plugin reads it to fail a test whose client spoke outside the
contract; the admin API shows it to anyone debugging a client.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from .request_validation import Violation


@dataclass(frozen=True)
class JournalEntry:
    sequence: int
    method: str
    path: str
    query: str
    operation_id: str | None
    status: int
    violations: tuple[Violation, ...]

    @property
    def conforms(self) -> bool:
        return not self.violations

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")

    def to_api(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operationId": self.operation_id,
            "status": self.status,
            "conforms": self.conforms,
            "violations": [
                {"field": v.field, "message": v.message, "rule": v.rule, "contract": v.pointer} for v in self.violations
            ],
        }


class Journal:
    def __init__(self, capacity: int = 10_000) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._sequence = 0

    def record(self, method: str, path: str, query: str, operation_id: str | None, status: int,
               violations: list[Violation] | tuple[Violation, ...]) -> JournalEntry:
        with self._lock:
            self._sequence += 1
            entry = JournalEntry(self._sequence, method, path, query, operation_id, status, tuple(violations))
            self._entries.append(entry)
            return entry

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
