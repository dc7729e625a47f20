"""Which API version a request asked for, decided once per request (DECISIONS.md, D1).

The `Version` header picks the contract, the validation and the view. Sent
twice with the same value (the vendor's Python SDK sends `version` and
`Version`) it is one header; with two values it is refused, naming both. Left
out, the request is served at the newest version whose contract does not
require the header for that operation (v3 for number pools and search).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .. import errors
from ..errors import ApiError, quoted
from .model import OperationSpec
from .requests import Violation

VERSION_HEADER = b"version"


@dataclass(frozen=True)
class VersionChoice:
    version: str  # the version served; with a problem, the one the rest of the request is checked against
    problem: ApiError | None = None
    violation: Violation | None = None


def version_values(raw_headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every value of the Version header (any spelling of its name), in the order sent."""
    found = []
    for name, value in raw_headers:  # a plain loop: this runs on every request
        if name.lower() == VERSION_HEADER:
            found.append(value.decode("latin-1").strip())
    return found


@functools.cache
def _chosen(version: str) -> VersionChoice:
    return VersionChoice(version)


def _wanted(operations: Mapping[str, OperationSpec]) -> str:
    return " or ".join(f"Version: {version}" for version in operations)


def negotiate(values: list[str], operations: Mapping[str, OperationSpec]) -> VersionChoice:
    """The version to serve an operation at (`operations`: its spec at each version that serves it, newest
    first), given the Version header's values."""
    if values and values[0] in operations and (len(values) == 1 or all(value == values[0] for value in values)):
        return _chosen(values[0])  # the usual case, first
    newest = next(iter(operations))
    operation = operations[newest]
    route = f"{operation.method} {operation.path}"
    header = operation.parameter("Version", "header")
    pointer = header.pointer if header else operation.pointer

    def refuse(message: str, rule: str, violation: str | None = None) -> VersionChoice:
        return VersionChoice(
            newest, errors.bad_request(message), Violation("header Version", violation or message, pointer, rule)
        )

    sent = list(dict.fromkeys(values))
    if len(sent) > 1:
        shown = " and ".join(quoted(value, 40) for value in sent)
        return refuse(
            f"Conflicting Version headers: {shown}. Send one Version header: {_wanted(operations)}.", "conflict"
        )
    if sent:
        if sent[0] in operations:
            return VersionChoice(sent[0])
        return refuse(
            f"Endpoint {route} is not available in API version {quoted(sent[0], 40)}. "
            f"Send the header {_wanted(operations)}.",
            "enum",
        )
    for version, spec in operations.items():
        if spec.version_header is None:
            return _chosen(version)
    return refuse(
        f"Version header is required for {route}: send {_wanted(operations)}.",
        "required",
        f"is required: send {_wanted(operations)}",
    )
