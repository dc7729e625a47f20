"""From what a target answered to findings: each difference from the contract or the fidelity ledger, classified,
named by its ledger entry, and counted once.

A finding's verdict is its ledger entry's: vendor drift where the vendor's documents promise the behaviour
(the vendor must change, or the contract if the vendor's documents did), a fidelity gap where only the
sandbox does it (tests that pass on lcphone may fail on the target: the sandbox, or the ledger entry, must
change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..contract.behaviours import FIDELITY_GAP, VENDOR_DRIFT, ledger
from ..contract.model import Schema
from ..contract.responses import ResponseProblem
from ..contract.versions import ApiVersion
from .probes import Probe

DRIFT = "drift"
NOTE = "note"


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
    behaviour: str = ""  # the ledger entry it breaks
    sandbox_did: str = ""  # what lcphone's sandbox answers to the same request (for a fidelity gap)

    def __post_init__(self) -> None:
        if not self.behaviour:
            self.behaviour = behaviour_of(self)

    @property
    def verdict(self) -> str:
        entry = ledger().behaviours.get(self.behaviour)
        return entry.verdict if entry is not None else VENDOR_DRIFT

    @property
    def fidelity_gap(self) -> bool:
        return self.verdict == FIDELITY_GAP

    @property
    def version(self) -> str:
        return self.example.version

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.version, self.operation_id, self.kind, self.subject

    @property
    def title(self) -> str:
        return TITLES.get(self.kind, self.kind).format(subject=self.subject)


# The ledger entry each kind of finding breaks (where a finding does not name its own).
BEHAVIOUR_OF_KIND = {
    "legacy-field": "answers.renamed-fields",
    "missing-envelope": "answers.envelope",
    "wrong-type": "answers.schema",
    "missing-field": "answers.schema",
    "schema": "answers.schema",
    "content-type": "answers.schema",
    "undocumented-status": "answers.statuses",
    "missing-header": "answers.schema",
    "not-enforced": "requests.required",
    "wire-form": "requests.wire-forms",
    "slow": "answers.latency",
    "not-sent": "answers.sent-fields",
    "vague-refusal": "requests.refusal-names-the-problem",
    "auth-message": "auth.messages",
}
AUTH_BEHAVIOURS = {
    "auth: another location's": "auth.other-location",
    "auth: a token without the scope": "auth.scopes",
}


def behaviour_of(finding: Finding) -> str:
    if finding.kind == "missing-header" and finding.subject.lower().startswith("x-ratelimit-"):
        return "answers.rate-limit-headers"
    if finding.kind == "wrong-type" and finding.subject == "statusCode":
        return "answers.envelope-status"
    if finding.kind == "auth-not-enforced":
        return AUTH_BEHAVIOURS.get(finding.example.rule, "auth.token-required")
    return BEHAVIOUR_OF_KIND.get(finding.kind, "")


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
    "not-sent": "not sent: `{subject}` (the sandbox always sends it)",
    "vague-refusal": "the refusal does not name {subject}",
    "auth-message": "another message for {subject}",
    "behaviour": "{subject}",
}


def generic_path(path: tuple[str, ...]) -> str:
    return "/".join("*" if re.fullmatch(r"\d+", part) else part for part in path) or "(root)"


def classify(probe: Probe, status: int, problems: list[ResponseProblem], version: ApiVersion) -> list[Finding]:
    """One finding per distinct way this answer differs from the contract of `version`."""
    findings: list[Finding] = []

    def add(kind: str, subject: str, says: str, did: str) -> None:
        findings.append(Finding(probe.operation_id, kind, subject, says, did, probe, status))

    envelope = version.envelope if probe.operation.answers_in(version.envelope) else ()
    envelope_missing = [p for p in problems if p.keyword == "required" and not p.path and p.name in envelope]
    if envelope_missing:
        names = dict.fromkeys(p.name for p in envelope_missing)
        add(
            "missing-envelope",
            "envelope",
            f"answers the {version.name} envelope {{{', '.join(envelope)}}}",
            "left out " + ", ".join(f"`{name}`" for name in names) + " at the top level",
        )
    renamed = version.renamed
    # A legacy name sent in place of its new name is one drift (the rename), not two.
    legacy_sent = {(p.path[:-1], renamed[p.name]) for p in problems if p.keyword == "not" and p.name in renamed}
    for problem in problems:
        if problem in envelope_missing or (
            problem.keyword == "required" and (problem.path, problem.name) in legacy_sent
        ):
            continue
        if problem.keyword == "not" and problem.name in renamed:
            new = renamed[problem.name]
            instead = f" instead of `{new}`" if (problem.path[:-1], new) in legacy_sent else ""
            add(
                "legacy-field",
                problem.name,
                f"{version.name} renamed it `{new}`; `{problem.name}` must not appear",
                f"sent `{problem.name}`{instead}",
            )
        elif not (envelope_missing and problem.rule == "schema" and problem.keyword not in ("type", "const", "enum")):
            findings.append(_finding(probe, status, problem))
    return findings


def _finding(probe: Probe, status: int, problem: ResponseProblem) -> Finding:
    """The finding of one problem of an answer (a legacy name and a missing envelope aside)."""

    def found(kind: str, subject: str, says: str, did: str) -> Finding:
        return Finding(probe.operation_id, kind, subject, says, did, probe, status)

    if problem.rule == "status":
        return found(
            "undocumented-status",
            problem.name,
            f"documents {', '.join(probe.operation.responses)}",
            f"answered {status}",
        )
    if problem.rule == "header":
        return found("missing-header", problem.name, f"every answer carries `{problem.name}`", "left it out")
    if problem.rule in ("content-type", "json"):
        return found("content-type", problem.message, "answers application/json", problem.message)
    if problem.keyword in ("type", "const", "enum"):
        return found(
            "wrong-type",
            generic_path(problem.path),
            problem.message.split(": ", 1)[0].replace("body ", "") + " per the schema",
            problem.message.split(": ", 1)[-1],
        )
    if problem.keyword == "required":
        where = generic_path((*problem.path, problem.name))
        return found("missing-field", where, f"`{where}` is required", "left it out")
    return found("schema", generic_path(problem.path), "the response schema holds", problem.message)


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
                found.add(generic_path((*path, key)))
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
        """Every finding that fails the run: vendor drift and fidelity gaps."""
        return [f for f in self.by_key.values() if f.severity == DRIFT]

    def vendor_drift(self) -> list[Finding]:
        return [f for f in self.drifts() if not f.fidelity_gap]

    def fidelity_gaps(self) -> list[Finding]:
        return [f for f in self.drifts() if f.fidelity_gap]

    def notes(self) -> list[Finding]:
        return [f for f in self.by_key.values() if f.severity == NOTE]
