"""The contract coverage of a test session, free of pytest: which outcomes each test's requests received.

The plugin hands it each test's journal entries when the test ends; with pytest-xdist, each worker's coverage
travels to the controller, which merges them. The report is `mockserver.contract.coverage.CoverageReport`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..contract.coverage import CoverageReport
from ..control.journal import JournalEntry


class CoverageSettingError(ValueError):
    pass


@dataclass
class SessionCoverage:
    report: CoverageReport = field(default_factory=CoverageReport)

    def collect(self, entries: list[JournalEntry], on_purpose: bool) -> None:
        """One test's requests; in a test that breaks the contract on purpose, the breaking ones count apart."""
        for entry in entries:
            self.report.add(
                entry.operation_id, entry.version, entry.outcomes, conforms=not (on_purpose and entry.violations)
            )

    def write(self, path: str) -> None:
        """The report as JSON (`.json`) or Markdown (`.md`)."""
        target = Path(path)
        if target.suffix == ".json":
            target.write_text(json.dumps(self.report.to_json(), indent=2) + "\n", encoding="utf-8")
        else:
            target.write_text(self.report.markdown(), encoding="utf-8")

    def verdict(self, fail_under: float | None) -> str | None:
        """Why the session fails for its coverage, if it does."""
        if fail_under is None or self.report.percent >= fail_under:
            return None
        return (
            f"lcphone: contract coverage {self.report.percent:g}% is under --lcphone-coverage-fail-under "
            f"{fail_under:g}%: the outcomes your tests never received are listed above, each with how to provoke it"
        )


def report_path(value: str | None) -> str | None:
    if value and Path(value).suffix not in (".json", ".md"):
        raise CoverageSettingError(f"--lcphone-coverage-report {value}: name a .json or a .md file")
    if value and not Path(value).resolve().parent.is_dir():
        raise CoverageSettingError(f"--lcphone-coverage-report {value}: the folder does not exist")
    return value or None


def threshold(value: object) -> float | None:
    if value in (None, ""):
        return None
    try:
        found = float(str(value))
    except ValueError:
        raise CoverageSettingError(f"--lcphone-coverage-fail-under {value!r}: expected a percentage") from None
    if not 0 <= found <= 100:
        raise CoverageSettingError(f"--lcphone-coverage-fail-under {value}: expected 0 to 100")
    return found
