"""Checks an answer against the contract: declared status, content type, required headers, body schema.

Used by the sandbox's own tests on every answer, and by anything that holds
a real environment to the contract.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker

from .contract import Contract, OperationSpec, load


@dataclass(frozen=True)
class ResponseProblem:
    rule: str  # status | content-type | header | schema | json
    message: str
    pointer: str

    def __str__(self) -> str:
        return self.message


@functools.lru_cache(maxsize=256)
def _validator(operation_id: str, status: str) -> Draft202012Validator | None:
    spec = load().operations[operation_id].responses[status]
    if spec.schema is None:
        return None
    return Draft202012Validator(spec.schema, format_checker=FormatChecker())


def check_response(
    operation: OperationSpec | str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    contract: Contract | None = None,
) -> list[ResponseProblem]:
    contract = contract or load()
    if isinstance(operation, str):
        operation = contract.operations[operation]
    spec = operation.response(status)
    if spec is None:
        return [ResponseProblem("status", f"status {status} is not documented for {operation.operation_id} "
                                          f"(documented: {', '.join(operation.responses)})", operation.pointer + "/responses")]
    problems: list[ResponseProblem] = []
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in sorted(spec.required_headers):
        if name.lower() not in lowered:
            problems.append(ResponseProblem("header", f"header {name} is missing", spec.pointer + "/headers/" + name))
    if spec.schema is None:
        return problems
    media_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        problems.append(ResponseProblem("content-type", f"content type {media_type or 'nothing'} is not application/json", spec.pointer))
        return problems
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        problems.append(ResponseProblem("json", f"body is not valid JSON ({error})", spec.pointer))
        return problems
    validator = _validator(operation.operation_id, spec.status)
    for error in validator.iter_errors(document) if validator else ():
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        message = error.message if error.validator != "not" else f"{path.rsplit('/', 1)[-1]} must not be present"
        problems.append(ResponseProblem("schema", f"body {path}: {message}", spec.pointer + "/content/application~1json/schema"))
    return problems


__all__ = ["ResponseProblem", "check_response"]
