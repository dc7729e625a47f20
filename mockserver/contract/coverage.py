"""Contract coverage of a client's tests: which of the API's outcomes (`outcomes.py`) a session received.

Built from what was seen (operation, version, outcome), by the pytest plugin from each test's requests, by the
sandbox and the proxy from their journal. Requests made on purpose outside the contract (a test marked
`lcphone_allow_violations`) count apart: an outcome only they met is not covered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .outcomes import KnownOutcome, Outcomes, outcomes

Seen = tuple[str, str, str]  # (operation, version, outcome)


@dataclass
class CoverageReport:
    catalogue: Outcomes = field(default_factory=outcomes)
    seen: set[Seen] = field(default_factory=set)
    on_purpose: set[Seen] = field(default_factory=set)  # seen only in requests outside the contract on purpose

    def add(self, operation: str | None, version: str | None, names: Iterable[str], conforms: bool = True) -> None:
        if operation is None or version is None:
            return
        target = self.seen if conforms else self.on_purpose
        for name in names:
            target.add((operation, version, name))

    def merge(self, other: dict[str, Any]) -> None:
        """Another process's coverage (`to_seen()`), e.g. a pytest-xdist worker's."""
        self.seen |= {tuple(item) for item in other.get("seen", ())}
        self.on_purpose |= {tuple(item) for item in other.get("onPurpose", ())}

    def to_seen(self) -> dict[str, list[list[str]]]:
        return {
            "seen": [list(item) for item in sorted(self.seen)],
            "onPurpose": [list(i) for i in sorted(self.on_purpose)],
        }

    def covered(self, known: KnownOutcome) -> bool:
        return (known.operation, known.version, known.outcome) in self.seen

    @property
    def percent(self) -> float:
        known = self.catalogue.known
        return round(100 * sum(self.covered(k) for k in known) / len(known), 1) if known else 100.0

    def rows(self) -> list[tuple[str, str, int, int, list[str]]]:
        """Per operation and version: covered, total, and the outcomes not covered."""
        found: dict[tuple[str, str], list[KnownOutcome]] = {}
        for known in self.catalogue.known:
            found.setdefault((known.operation, known.version), []).append(known)
        return [
            (operation, version, sum(self.covered(k) for k in known), len(known),
             [k.outcome for k in known if not self.covered(k)])
            for (operation, version), known in found.items()
        ]  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "percent": self.percent,
            "covered": sum(self.covered(k) for k in self.catalogue.known),
            "total": len(self.catalogue.known),
            "outcomes": [
                {
                    "operation": k.operation,
                    "version": k.version,
                    "status": k.status,
                    "outcome": k.outcome,
                    "covered": self.covered(k),
                    "onPurposeOnly": not self.covered(k) and (k.operation, k.version, k.outcome) in self.on_purpose,
                    "hint": k.hint,
                    "ledger": k.behaviour,
                }
                for k in self.catalogue.known
            ],
        }

    def table(self) -> str:
        """The terminal's table: per operation and version, covered of total, and what was never received."""
        rows = self.rows()
        width = max([len(f"{op} {v}") for op, v, *_ in rows] or [10])
        lines = [f"{'operation version':{width}}  covered  not received"]
        for operation, version, covered, total, missing in rows:
            where = f"{operation} {version}"
            lines.append(f"{where:{width}}  {covered:>3}/{total:<3}  {', '.join(missing) or '-'}")
        lines.append(f"contract coverage: {self.percent:g}% of {len(self.catalogue.known)} outcomes")
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [
            f"**Contract coverage: {self.percent:g}%** of {len(self.catalogue.known)} outcomes",
            "",
            "| operation | version | covered | not received |",
            "|---|---|---:|---|",
        ]
        for operation, version, covered, total, missing in self.rows():
            lines.append(f"| {operation} | {version} | {covered}/{total} | {', '.join(missing) or '-'} |")
        lines += ["", "| not received | how to provoke it |", "|---|---|"]
        for known in self.catalogue.known:
            if not self.covered(known):
                lines.append(f"| {known.operation} {known.version} {known.outcome} | {known.hint} |")
        return "\n".join(lines) + "\n"

    @classmethod
    def of_journal(cls, entries: Iterable[Any], catalogue: Outcomes | None = None) -> CoverageReport:
        """The coverage of the requests a journal holds."""
        report = cls(catalogue or outcomes())
        for entry in entries:
            report.add(entry.operation_id, entry.version, entry.outcomes)
        return report
