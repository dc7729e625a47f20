"""Scenario files: who exists in the sandbox at the start (locations, tokens, numbers, pools).

A scenario is YAML (or the same document as JSON through the admin API),
checked against `scenario_schema.yaml` so that a typo is reported, not ignored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

_HERE = Path(__file__).resolve().parent
DEFAULT_SCENARIO_NAME = "default"


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; `problems` names each offending field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def fixtures_dir() -> Path:
    """Where the shipped scenarios are: inside the installed package, or `fixtures/` of a checkout."""
    packaged = _HERE / "fixtures"
    return packaged if packaged.is_dir() else _HERE.parent / "fixtures"


@functools.lru_cache(maxsize=1)
def _schema_validator() -> Draft202012Validator:
    with (_HERE / "scenario_schema.yaml").open("rb") as handle:
        return Draft202012Validator(yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


@dataclass(frozen=True)
class Scenario:
    document: dict[str, Any]

    @property
    def name(self) -> str:
        return self.document["name"]

    @property
    def clock_start(self) -> str:
        return self.document.get("clockStart", "2026-01-01T00:00:00Z")

    @property
    def locations(self) -> list[dict[str, Any]]:
        return self.document.get("locations", [])

    @property
    def agency_tokens(self) -> list[dict[str, Any]]:
        return self.document.get("agencyTokens", [])

    @classmethod
    def from_document(cls, document: Any) -> Scenario:
        if not isinstance(document, dict):
            raise ScenarioError(["scenario: expected a mapping at the top level"])
        problems = []
        for error in sorted(_schema_validator().iter_errors(document), key=lambda e: list(map(str, e.path))):
            where = ".".join(str(p) for p in error.absolute_path) or "scenario"
            problems.append(f"{where}: {error.message}")
        locations = document.get("locations")
        ids = [loc.get("id") for loc in locations if isinstance(loc, dict)] if isinstance(locations, list) else []
        duplicates = sorted({i for i in ids if ids.count(i) > 1 and i is not None})
        problems += [f"locations: id {i!r} appears more than once" for i in duplicates]
        if problems:
            raise ScenarioError(problems)
        return cls(document)

    @classmethod
    def from_yaml(cls, text: str | bytes) -> Scenario:
        try:
            document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as error:
            raise ScenarioError([f"scenario: not valid YAML ({error})"]) from None
        return cls.from_document(document)

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        path = Path(path)
        if not path.is_file():
            named = fixtures_dir() / f"{path.name}.yaml"
            if path.suffix or not named.is_file():
                raise ScenarioError([f"scenario: no file {str(path)!r} (nor a shipped scenario of that name)"])
            path = named
        return cls.from_yaml(path.read_bytes())

    @classmethod
    def default(cls) -> Scenario:
        return cls.from_file(fixtures_dir() / f"{DEFAULT_SCENARIO_NAME}.yaml")
