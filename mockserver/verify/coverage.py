"""What a run of verify checked, and what it did not, with why: the report's "not checked" section."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NotChecked:
    version: str
    operation_id: str
    rule: str
    reason: str


@dataclass
class Coverage:
    checked: set[tuple[str, str, str]] = field(default_factory=set)  # (version, operation, rule) exercised
    skipped: dict[tuple[str, str, str], str] = field(default_factory=dict)  # ... not exercised, and why

    def exercised(self, version: str, operation_id: str, rule: str) -> None:
        self.checked.add((version, operation_id, rule))
        self.skipped.pop((version, operation_id, rule), None)

    def skip(self, version: str, operation_id: str, rule: str, reason: str) -> None:
        key = (version, operation_id, rule)
        if key not in self.checked:
            self.skipped.setdefault(key, reason)

    def not_checked(self) -> list[NotChecked]:
        return [NotChecked(*key, reason) for key, reason in sorted(self.skipped.items()) if key not in self.checked]
