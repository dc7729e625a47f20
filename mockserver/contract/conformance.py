"""The one conformance check: what the contract says of a request, as a client sent it.

It finds the operation (the registry is the router), picks the version the request asked for (D1), and checks
the request against that version's contract. The sandbox's gateway answers a 4xx naming its violations; the
pytest plugin fails the test that sent it; the proxy flags it on its way to the real API; lcphone's own tests
check answers against the version it picked. All of them ask here, so they always agree.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from ..errors import ApiError
from .model import OperationSpec
from .negotiation import negotiate, version_values
from .operations import Operation, OperationRegistry, registry
from .requests import MAX_BODY_BYTES, CheckedRequest, OperationValidator, Violation, route_violation

RawHeaders = Iterable[tuple[bytes, bytes]]


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """`parse_qsl(keep_blank_values=True)`, with a fast path for the common case of nothing to unescape."""
    if "%" in query_string or "+" in query_string:
        return parse_qsl(query_string, keep_blank_values=True)
    pairs = []
    for part in query_string.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


def header_map(raw_headers: RawHeaders) -> dict[str, str]:
    """Headers by lowercased name (the last one sent of a name wins), values stripped."""
    found = {}
    for name, value in raw_headers:  # a plain loop: this runs on every request
        found[name.decode("latin-1").lower()] = value.decode("latin-1").strip()
    return found


@dataclass(slots=True)
class Verdict:
    """The contract's verdict on one request."""

    operation: Operation | None  # None: no operation serves the method and path
    version: str | None  # the version it is served at; with a Version problem, the one the rest was checked against
    request: CheckedRequest  # its typed values, its token, and its violations
    path_params: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    refusal: ApiError | None = None  # the Version problem that refuses the request, before anything else
    location_id: str | None = None  # the location it names, as sent (valid or not): in its path, or its query

    @property
    def violations(self) -> list[Violation]:
        return self.request.violations

    @property
    def conforms(self) -> bool:
        return not self.request.violations

    @property
    def spec(self) -> OperationSpec | None:
        """The operation's spec at the version chosen."""
        return self.operation.versions[self.version] if self.operation and self.version else None


class Conformance:
    """The conformance check over one set of operations (the shipped contracts', unless told otherwise)."""

    def __init__(self, operations: OperationRegistry | None = None) -> None:
        self.operations = operations or registry()
        self.validators: dict[tuple[str, str], OperationValidator] = {}

    def validator(self, spec: OperationSpec) -> OperationValidator:
        key = (spec.operation_id, spec.version)
        found = self.validators.get(key)
        if found is None:
            found = self.validators[key] = OperationValidator(spec)
        return found

    def verdict(
        self, method: str, path: str, query_string: str, raw_headers: RawHeaders, body: bytes | None = None
    ) -> Verdict:
        """The verdict on a whole request: which operation, which version, what is wrong with it."""
        found = self.operations.match(method, path)
        if found is None:
            return Verdict(None, None, CheckedRequest(violations=[route_violation(method, path)]))
        operation, path_params = found
        return self.check(operation, path_params, list(raw_headers), query_string, body)

    def check(
        self,
        operation: Operation,
        path_params: dict[str, str],
        raw_headers: list[tuple[bytes, bytes]],
        query_string: str,
        body: bytes | None,
        body_too_large: bool = False,
    ) -> Verdict:
        """The verdict on a request already routed to `operation` (the gateway's hot path)."""
        choice = negotiate(version_values(raw_headers), operation.versions)
        spec = operation.versions[choice.version]
        headers = header_map(raw_headers)
        query = parse_query(query_string)
        validator = self.validators.get((spec.operation_id, spec.version)) or self.validator(spec)
        if spec.body_schema is None:
            checked = validator.check_without_body(query_string, path_params, query, headers)
        else:
            checked = validator.check(path_params, query, headers, body, headers.get("content-type"))
        if choice.violation is not None:
            # Left out, the rest was checked against the newest version, which is meaningful; a wrong version's
            # request was checked against another version's contract, so then only the version counts.
            others = [v for v in checked.violations if v.field != "header Version"]
            checked.violations = [choice.violation, *(others if choice.violation.rule == "required" else [])]
        if body_too_large:
            pointer = spec.body_pointer or spec.pointer
            checked.violations.append(Violation("body", f"larger than {MAX_BODY_BYTES} bytes", pointer, "size"))
        location_id = path_params.get("locationId") or next((v for k, v in query if k == "locationId"), None)
        return Verdict(operation, choice.version, checked, path_params, query, headers, choice.problem, location_id)


@functools.cache
def conformance() -> Conformance:
    """The conformance check of the shipped contracts."""
    return Conformance()
