"""From what a target answered to drift: each difference from the contract, classified and counted once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..contract import Schema
from ..response_validation import ResponseProblem
from .probes import Probe

DRIFT = "drift"
NOTE = "note"
RENAMED = {"isUnderGhl": "isUnderLc", "under_ghl_account": "underLcAccount"}  # legacy name -> v3 name
LEGACY_NAMES = tuple(RENAMED)
ENVELOPE_FIELDS = ("status", "data", "message", "statusCode")


@dataclass
class Finding:
    operation_id: str
    kind: str  # legacy-field | missing-envelope | wrong-type | missing-field | schema | undocumented-status |
    #            missing-header | not-enforced | content-type | slow | unreachable | extra-field
    subject: str
    contract_says: str
    target_did: str
    example: Probe
    example_status: int | None = None
    severity: str = DRIFT
    count: int = 1

    @property
    def version(self) -> str:
        return self.example.version

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.version, self.operation_id, self.kind, self.subject

    @property
    def title(self) -> str:
        return TITLES.get(self.kind, self.kind).format(subject=self.subject)


TITLES = {
    "legacy-field": "legacy field `{subject}`",
    "missing-envelope": "no v3 envelope",
    "wrong-type": "wrong type at `{subject}`",
    "missing-field": "missing field `{subject}`",
    "schema": "body breaks the schema at `{subject}`",
    "undocumented-status": "undocumented status {subject}",
    "missing-header": "missing header `{subject}`",
    "not-enforced": "not enforced: {subject}",
    "content-type": "content type `{subject}`",
    "slow": "slow answers",
    "extra-field": "extra field `{subject}`",
    "state": "{subject}",
    "auth-not-enforced": "not enforced: {subject}",
    "wire-form": "wire form refused: {subject}",
}


def _generic_path(path: tuple[str, ...]) -> str:
    return "/".join("*" if re.fullmatch(r"\d+", part) else part for part in path) or "(root)"


def classify(probe: Probe, status: int, problems: list[ResponseProblem], enveloped: bool) -> list[Finding]:
    """One finding per distinct way this answer differs from the contract."""
    findings: list[Finding] = []
    op = probe.operation_id

    def add(kind: str, subject: str, says: str, did: str) -> None:
        findings.append(Finding(op, kind, subject, says, did, probe, status))

    envelope_missing = [p for p in problems if p.keyword == "required" and not p.path and p.name in ENVELOPE_FIELDS]
    if enveloped and envelope_missing:
        names = dict.fromkeys(p.name for p in envelope_missing)
        add(
            "missing-envelope",
            "envelope",
            "answers the v3 envelope {status, data, message, statusCode}",
            "left out " + ", ".join(f"`{name}`" for name in names) + " at the top level",
        )
    # A legacy name sent in place of its v3 name is one drift (the rename), not two.
    legacy_sent = {(p.path[:-1], RENAMED[p.name]) for p in problems if p.keyword == "not" and p.name in RENAMED}
    for problem in problems:
        if problem in envelope_missing:
            continue
        if problem.keyword == "required" and (problem.path, problem.name) in legacy_sent:
            continue
        if problem.rule == "status":
            add(
                "undocumented-status",
                problem.name,
                f"documents {', '.join(probe.operation.responses)}",
                f"answered {status}",
            )
        elif problem.rule == "header":
            add("missing-header", problem.name, f"every answer carries `{problem.name}`", "left it out")
        elif problem.rule in ("content-type", "json"):
            add("content-type", problem.message, "answers application/json", problem.message)
        elif problem.keyword == "not" and problem.name in LEGACY_NAMES:
            add(
                "legacy-field",
                problem.name,
                f"v3 renamed it `{RENAMED[problem.name]}`; `{problem.name}` must not appear",
                f"sent `{problem.name}`"
                + (
                    f" instead of `{RENAMED[problem.name]}`"
                    if (problem.path[:-1], RENAMED[problem.name]) in legacy_sent
                    else ""
                ),
            )
        elif problem.keyword in ("type", "const", "enum"):
            add(
                "wrong-type",
                _generic_path(problem.path),
                problem.message.split(": ", 1)[0].replace("body ", "") + " per the schema",
                problem.message.split(": ", 1)[-1],
            )
        elif problem.keyword == "required" and not (enveloped and envelope_missing):
            where = _generic_path((*problem.path, problem.name))
            add("missing-field", where, f"`{where}` is required", "left it out")
        elif not (enveloped and envelope_missing):
            add("schema", _generic_path(problem.path), "the response schema holds", problem.message)
    return findings


def not_enforced(probe: Probe, status: int) -> Finding:
    return Finding(
        probe.operation_id,
        "not-enforced",
        probe.label,
        f"refuses it with 400 ({probe.refusal})",
        f"answered {status}",
        probe,
        status,
    )


def auth_not_enforced(probe: Probe, status: int, expected: int) -> Finding:
    """A request the service must refuse for who sent it (401 no or bad token, 403 another location) that it
    answered otherwise: served (2xx) is the worst, but any other answer breaks the rule too."""
    return Finding(
        probe.operation_id,
        "auth-not-enforced",
        f"{probe.rule} ({probe.label})",
        f"refuses it with {expected}",
        f"answered {status}",
        probe,
        status,
    )


def wire_form_refused(probe: Probe, status: int) -> Finding:
    return Finding(
        probe.operation_id, "wire-form", probe.form, f"accepts {probe.label} (D27)", f"answered {status}", probe, status
    )


def slow(probe: Probe, status: int, elapsed_ms: float, limit_ms: int) -> Finding:
    return Finding(
        probe.operation_id,
        "slow",
        "latency",
        f"answers within {limit_ms} ms (verify's --max-latency)",
        f"took {elapsed_ms:.0f} ms",
        probe,
        status,
    )


def _object_properties(schema: Schema, instance: Any) -> dict[str, Schema] | None:
    """The properties an object schema lists (allOf merged; the branch of oneOf/anyOf that fits)."""
    if not isinstance(schema, dict):
        return None
    properties: dict[str, Schema] = dict(schema.get("properties", {}))
    found = "properties" in schema
    for sub in schema.get("allOf", []):
        more = _object_properties(sub, instance)
        if more is not None:
            properties.update(more)
            found = True
    for key in ("oneOf", "anyOf"):
        for sub in schema.get(key, []):
            if isinstance(sub, dict) and sub.get("type") in ("object", None) and isinstance(instance, dict):
                more = _object_properties(sub, instance)
                if more:
                    properties.update(more)
                    found = True
    return properties if found else None


def extra_fields(schema: Schema | None, instance: Any, path: tuple[str, ...] = ()) -> set[str]:
    """Fields of the answer that the schema does not list (allowed, D21, but worth a note)."""
    found: set[str] = set()
    if isinstance(instance, dict) and schema is not None:
        properties = _object_properties(schema, instance)
        if properties is None:
            return found
        for key, value in instance.items():
            if key not in properties:
                found.add(_generic_path((*path, key)))
            else:
                found |= extra_fields(properties[key], value, (*path, key))
    elif isinstance(instance, list) and isinstance(schema, dict) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(instance):
            found |= extra_fields(schema["items"], item, (*path, str(index)))
    return found


@dataclass
class Findings:
    """Findings grouped: each (operation, kind, subject) once, with how often it was seen."""

    by_key: dict[tuple[str, str, str, str], Finding] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        existing = self.by_key.get(finding.key)
        if existing is None:
            self.by_key[finding.key] = finding
        else:
            existing.count += 1

    def drifts(self) -> list[Finding]:
        return [f for f in self.by_key.values() if f.severity == DRIFT]

    def notes(self) -> list[Finding]:
        return [f for f in self.by_key.values() if f.severity == NOTE]
