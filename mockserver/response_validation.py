"""Checks an answer against the contract: declared status, content type, required headers, body schema.

Used by the sandbox's own tests on every answer (the "sandbox" profile: what
the sandbox always sends), and by anything that holds a real environment to
the contract (the "promised" profile: what the vendor promises, D25).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker

from .contract import Contract, OperationSpec, Profile, load


@dataclass(frozen=True)
class ResponseProblem:
    rule: str  # status | content-type | header | schema | json
    message: str
    pointer: str
    keyword: str = ""  # for schema problems: the JSON Schema keyword that failed (type, required, not...)
    path: tuple[str, ...] = ()  # for schema problems: where in the body
    name: str = ""  # the field or header concerned, when there is one

    def __str__(self) -> str:
        return self.message


@functools.lru_cache(maxsize=256)
def _validator(version: str, operation_id: str, status: str, profile: Profile) -> Draft202012Validator | None:
    schema = load(version).operations[operation_id].responses[status].schema_for(profile)
    if schema is None:
        return None
    return Draft202012Validator(schema, format_checker=FormatChecker())


def check_response(
    operation: OperationSpec | str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    contract: Contract | None = None,
    profile: Profile = "promised",
) -> list[ResponseProblem]:
    """What is wrong with an answer to `operation` (an operation of one version's contract, or its id at v3)."""
    if isinstance(operation, str):
        operation = (contract or load()).operations[operation]
    spec = operation.response(status)
    if spec is None:
        return [
            ResponseProblem(
                "status",
                f"status {status} is not documented for {operation.operation_id} "
                f"(documented: {', '.join(operation.responses)})",
                operation.pointer + "/responses",
                name=str(status),
            )
        ]
    problems: list[ResponseProblem] = []
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in sorted(spec.required_headers):
        if name.lower() not in lowered:
            problems.append(
                ResponseProblem("header", f"header {name} is missing", spec.pointer + "/headers/" + name, name=name)
            )
    if spec.schema is None:
        return problems
    media_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        problems.append(
            ResponseProblem(
                "content-type", f"content type {media_type or 'nothing'} is not application/json", spec.pointer
            )
        )
        return problems
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as invalid:
        problems.append(ResponseProblem("json", f"body is not valid JSON ({invalid})", spec.pointer))
        return problems
    validator = _validator(operation.version, operation.operation_id, spec.status, profile)
    for error in validator.iter_errors(document) if validator else ():
        parts = tuple(str(p) for p in error.absolute_path)
        path = "/".join(parts) or "(root)"
        keyword = str(error.validator)
        name = parts[-1] if parts else ""
        if keyword == "required":
            name = error.message.split("'")[1] if "'" in error.message else ""
        message = error.message if keyword != "not" else f"{name} must not be present"
        problems.append(
            ResponseProblem(
                "schema",
                f"body {path}: {message}",
                spec.pointer + "/content/application~1json/schema",
                keyword,
                parts,
                name,
            )
        )
    return problems


__all__ = ["ResponseProblem", "check_response"]
