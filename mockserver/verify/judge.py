"""The answer checks: every answer verify receives, judged against the contract of its version and the ledger.

- `answer-schema`: the contract, as the vendor promises it (D25): status, headers, the body's schema;
- `sent-fields`: what the sandbox always sends beyond that (`x-lcphone-sends`): a fidelity gap when missing;
- `auth`: a request the service must refuse for who sent it, refused with the right status and message;
- `refusals`: a malformed request refused with 400, in the error shape, naming what is wrong;
- `wire-forms`: the forms of list parameters the vendor's SDKs send, accepted;
- `latency`: answered within `--max-latency`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..contract.responses import ResponseProblem, check_response
from ..contract.versions import ApiVersion
from ..errors import invalid_token, no_location_access
from .findings import (
    NOTE,
    Finding,
    auth_not_enforced,
    classify,
    extra_fields,
    generic_path,
    not_enforced,
    slow,
    wire_form_refused,
)
from .probes import AUTH_LOCATION, AUTH_SCOPE, FORBIDDEN, REJECT, UNAUTHORIZED, Probe

INVALID_JWT = invalid_token().message
NO_ACCESS = no_location_access().message


@dataclass(frozen=True)
class WireFact:
    version: str
    operation_id: str
    form: str
    accepted: bool
    status: int | None


class Received(Protocol):
    """What the checks read of an answer: an `httpx.Response`, or what the proxy received."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    def json(self) -> Any: ...


@dataclass
class Judgement:
    findings: list[Finding] = field(default_factory=list)
    facts: list[WireFact] = field(default_factory=list)


def _message(response: Received) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("message") if isinstance(body, dict) else None


def judge(
    probe: Probe, response: Received, elapsed_ms: float, version: ApiVersion, max_latency_ms: int, notes: bool = True
) -> Judgement:
    """Every finding one answer makes (`notes`: also those that are not drift, such as extra fields)."""
    judgement = Judgement()
    found = judgement.findings
    operation, status = probe.operation, response.status_code
    problems = check_response(operation, status, response.headers, response.content)
    found += classify(probe, status, problems, version)
    found += _not_sent(probe, response, problems)
    found += _refusal(probe, response)
    found += _auth(probe, response)
    if probe.form:
        judgement.facts.append(WireFact(probe.version, probe.operation_id, probe.form, 200 <= status < 300, status))
        if status >= 400:
            found.append(wire_form_refused(probe, status))
    if elapsed_ms > max_latency_ms:
        found.append(slow(probe, status, elapsed_ms, max_latency_ms))
    if notes and not problems:
        found += _extra_fields(probe, response)
    return judgement


def _not_sent(probe: Probe, response: Received, promised: list[ResponseProblem]) -> list[Finding]:
    """What the sandbox always sends that the answer lacks, where the vendor's documents require nothing."""
    status = response.status_code
    if promised or probe.operation.response(status) is None:
        return []  # an answer that breaks the contract is reported as such, not twice
    sandbox = check_response(probe.operation, status, response.headers, response.content, "sandbox")
    return [
        Finding(
            probe.operation_id,
            "not-sent",
            generic_path((*p.path, p.name)),
            f"the sandbox always sends `{generic_path((*p.path, p.name))}` (x-lcphone-sends)",
            "left it out",
            probe,
            status,
        )
        for p in sandbox
        if p.keyword == "required"
    ]


def _refusal(probe: Probe, response: Received) -> list[Finding]:
    status = response.status_code
    if probe.expect != REJECT:
        return []
    if status < 400:
        return [not_enforced(probe, status)]
    message = _message(response)
    if status == 400 and probe.names and not (isinstance(message, str) and probe.names in message):
        return [
            Finding(
                probe.operation_id,
                "vague-refusal",
                f"`{probe.names}`",
                f"answers 400 whose message names `{probe.names}` (D4)",
                f"answered 400 with the message {message!r}",
                probe,
                status,
            )
        ]
    return []


def _auth(probe: Probe, response: Received) -> list[Finding]:
    status = response.status_code
    expected = {UNAUTHORIZED: 401, FORBIDDEN: 403}.get(probe.expect)
    if expected is None:
        return []
    if status != expected:
        return [auth_not_enforced(probe, status, expected)]
    message = _message(response)
    if probe.rule == AUTH_SCOPE:
        wanted, good = f"a message naming {probe.names}", isinstance(message, str) and probe.names in message
    elif probe.rule == AUTH_LOCATION:
        wanted, good = repr(NO_ACCESS), message == NO_ACCESS
    else:
        wanted, good = repr(INVALID_JWT), message == INVALID_JWT
    if good:
        return []
    return [
        Finding(
            probe.operation_id,
            "auth-message",
            probe.rule,
            f"answers {expected} with {wanted}",
            f"answered {status} with {message!r}",
            probe,
            status,
        )
    ]


def _extra_fields(probe: Probe, response: Received) -> list[Finding]:
    spec = probe.operation.response(response.status_code)
    if spec is None or spec.schema is None:
        return []
    try:
        body = response.json()
    except ValueError:
        return []
    return [
        Finding(
            probe.operation_id,
            "extra-field",
            name,
            "does not list it (extra fields are allowed)",
            f"sent `{name}`",
            probe,
            response.status_code,
            severity=NOTE,
        )
        for name in sorted(extra_fields(spec.schema, body))
    ]
