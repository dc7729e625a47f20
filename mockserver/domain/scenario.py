"""Scenario files: who exists in the sandbox at the start (locations, tokens, numbers, pools).

A scenario is YAML (or the same document as JSON through the admin API),
checked against `scenario_schema.yaml` so that a typo is reported, not ignored.
Every problem is named by its field path (`locations.0.numbers.1.count`) and
quotes at most a short excerpt of the value. Scenario text is limited in size
and may not use YAML aliases, so that a small document cannot expand into a
huge one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ..contract.requests import describe

_HERE = Path(__file__).resolve().parent
DEFAULT_SCENARIO_NAME = "default"
MAX_SCENARIO_BYTES = 512 * 1024
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SHALLOW = ("additionalProperties", "required", "oneOf", "anyOf", "type")  # say little about what was meant


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; `problems` names each offending field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _in_file(problem: str, path: Path) -> str:
    return f"scenario {path}: {problem.removeprefix('scenario: ')}"


def fixtures_dir() -> Path:
    """Where the shipped scenarios are: inside the installed package, or `fixtures/` of a checkout."""
    packaged = _HERE.parent / "fixtures"
    return packaged if packaged.is_dir() else _HERE.parents[1] / "fixtures"


@functools.lru_cache(maxsize=1)
def _schema_validator() -> Draft202012Validator:
    with (_HERE / "scenario_schema.yaml").open("rb") as handle:
        return Draft202012Validator(yaml.load(handle, Loader=_LOADER))


def _problem(error: ValidationError) -> str:
    """One line for a schema error: the field path, and what is wrong, never the whole offending object."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        # Of the alternatives, the one that got furthest into the value is the one the author meant.
        error = max(error.context, key=lambda e: (len(e.absolute_path), e.validator not in _SHALLOW))
    where = ".".join(str(p) for p in error.absolute_path) or "scenario"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "a field"
        return f"{where}.{missing}: is required" if where != "scenario" else f"{missing}: is required"
    message, _ = describe(error)
    return f"{where}: {message}"


def _duplicates(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    return sorted({v for v in values if v in seen or seen.add(v)}, key=str)  # type: ignore[func-returns-value]


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
        errors = sorted(_schema_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
        problems = [_problem(error) for error in errors[:20]]
        if problems:
            raise ScenarioError(problems)
        locations = document.get("locations", [])
        problems += [
            f"locations: id {i!r} appears more than once" for i in _duplicates([loc["id"] for loc in locations])
        ]
        tokens = [t["value"] for loc in locations for t in loc.get("tokens", []) if "value" in t]
        tokens += [t["value"] for t in document.get("agencyTokens", []) if "value" in t]
        problems += [f"tokens: {t[:40]!r} is given to more than one location" for t in _duplicates(tokens)]
        pools = [pool["id"] for loc in locations for pool in loc.get("pools", []) if "id" in pool]
        problems += [f"pools: id {i!r} appears more than once" for i in _duplicates(pools)]
        if problems:
            raise ScenarioError(problems)
        return cls(document)

    @classmethod
    def from_yaml(cls, text: str | bytes) -> Scenario:
        if len(text) > MAX_SCENARIO_BYTES:
            raise ScenarioError([f"scenario: larger than {MAX_SCENARIO_BYTES} bytes"])
        try:
            if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=_LOADER)):
                raise ScenarioError(["scenario: YAML aliases (*name) are not allowed in scenarios"])
            document = yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or "cannot be parsed"
            raise ScenarioError([f"scenario: not valid YAML{where}: {str(problem)[:200]}"]) from None
        return cls.from_document(document)

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        """A scenario file, or the name of a shipped one (`default`); a path that does not exist is an error."""
        path = Path(path)
        shipped = fixtures_dir() / f"{path.name}.yaml"
        if not path.is_file():
            if str(path) != path.name or path.suffix or not shipped.is_file():
                names = ", ".join(sorted(p.stem for p in fixtures_dir().glob("*.yaml")))
                raise ScenarioError([f"scenario: no file {str(path)!r} (shipped scenarios: {names})"])
            path = shipped
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError([f"scenario: {path} is larger than {MAX_SCENARIO_BYTES} bytes"])
        try:
            text = path.read_bytes()
        except OSError as error:
            raise ScenarioError([f"scenario: cannot read {path}: {error.strerror}"]) from None
        try:
            return cls.from_yaml(text)
        except ScenarioError as error:  # each problem names the file, as an editor's "file:line" would
            raise ScenarioError([_in_file(problem, path) for problem in error.problems]) from None

    @classmethod
    def default(cls) -> Scenario:
        return cls.from_file(fixtures_dir() / f"{DEFAULT_SCENARIO_NAME}.yaml")
