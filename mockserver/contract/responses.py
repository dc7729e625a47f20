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

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .model import OperationSpec, Profile, ResponseSpec


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
def _validator(spec: ResponseSpec, profile: Profile) -> Draft202012Validator | None:
    schema = spec.schema_for(profile)
    return Draft202012Validator(schema, format_checker=FormatChecker()) if schema is not None else None


@functools.lru_cache(maxsize=256)
def _fast_validator(spec: ResponseSpec, profile: Profile) -> Any:
    """The same schema compiled by jsonschema-rs: tens of times faster at saying that an answer is valid, which
    nearly every answer is. Only an invalid one is walked again by `jsonschema`, for its problems' words."""
    schema = spec.schema_for(profile)
    return jsonschema_rs.validator_for(schema, validate_formats=True) if schema is not None else None


def check_response(
    operation: OperationSpec,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    profile: Profile = "promised",
) -> list[ResponseProblem]:
    """What is wrong with an answer to `operation` (an operation of one version's contract)."""
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
    lowered = {k.lower(): v for k, v in headers.items()}
    problems = [
        ResponseProblem("header", f"header {name} is missing", spec.pointer + "/headers/" + name, name=name)
        for name in sorted(spec.required_headers)
        if name.lower() not in lowered
    ]
    if spec.schema is not None:
        problems += _body_problems(spec, lowered.get("content-type", ""), body, profile)
    return problems


def _body_problems(spec: ResponseSpec, content_type: str, body: bytes, profile: Profile) -> list[ResponseProblem]:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type != "application/json":
        return [
            ResponseProblem(
                "content-type", f"content type {media_type or 'nothing'} is not application/json", spec.pointer
            )
        ]
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as invalid:
        return [ResponseProblem("json", f"body is not valid JSON ({invalid})", spec.pointer)]
    fast = _fast_validator(spec, profile)
    if fast is None or fast.is_valid(document):
        return []
    validator = _validator(spec, profile)
    return [_schema_problem(spec, error) for error in (validator.iter_errors(document) if validator else ())]


def _schema_problem(spec: ResponseSpec, error: ValidationError) -> ResponseProblem:
    parts = tuple(str(p) for p in error.absolute_path)
    keyword = str(error.validator)
    name = parts[-1] if parts else ""
    if keyword == "required":
        name = error.message.split("'")[1] if "'" in error.message else ""
    message = error.message if keyword != "not" else f"{name} must not be present"
    return ResponseProblem(
        "schema",
        f"body {'/'.join(parts) or '(root)'}: {message}",
        spec.pointer + "/content/application~1json/schema",
        keyword,
        parts,
        name,
    )


__all__ = ["ResponseProblem", "check_response"]
