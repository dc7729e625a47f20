"""Checks a raw HTTP request against an operation of the contract.

The same check serves two masters: the sandbox answers 4xx with its
violations, and the pytest plugin's conformance verdict lists them, each with
the contract location of the rule broken.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

from .contract import OperationSpec, ParameterSpec, Schema

MAX_BODY_BYTES = 64 * 1024
_INTEGER = re.compile(r"^[+-]?[0-9]{1,18}$")
_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_BEARER = re.compile(r"^Bearer +(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Violation:
    """One way a request breaks the contract."""

    field: str  # what is wrong, in the client's words: "pageSize", "header Version", "body.phoneNumber"
    message: str
    pointer: str  # the contract location of the rule
    rule: str  # required | type | enum | maximum | content-type | json | security | ...

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def route_violation(method: str, path: str) -> Violation:
    """A request for a path or method that no operation of the contract serves."""
    return Violation("path", f"no operation of the contract serves {method} {path}", "#/paths", "route")


@dataclass
class CheckedRequest:
    """The request's values, typed as the contract says, and what was wrong with it."""

    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    token: str | None = None
    violations: list[Violation] = field(default_factory=list)


def _validator(schema: Schema) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _describe(error: SchemaError) -> tuple[str, str]:
    """A short message for a schema error, and the rule it broke (enum lists are not dumped whole)."""
    rule = str(error.validator)
    if rule == "enum" and isinstance(error.validator_value, list) and len(error.validator_value) > 8:
        return f"{error.instance!r} is not one of the {len(error.validator_value)} allowed values", rule
    if rule == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field not allowed"), rule
    if rule == "not":
        return "must not be present", "forbidden"
    return error.message, rule


def _schema_violations(validator: Draft202012Validator, value: Any, label: str, pointer: str,
                       nested: bool = True) -> list[Violation]:
    """One violation per schema error; `nested` names body fields by their path (`a.b`), parameters by name only."""
    violations = []
    for error in sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.path)), str(e.validator))):
        path = ".".join(str(part) for part in error.absolute_path) if nested else ""
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            name = f"{label}.{path}.{missing}" if path else f"{label}.{missing}"
            violations.append(Violation(name.removeprefix("body."), "is required", pointer, "required"))
            continue
        message, rule = _describe(error)
        name = f"{label}.{path}" if path else label
        violations.append(Violation(name.removeprefix("body."), message, pointer, rule))
    return violations


def _coerce_scalar(raw: str, kind: str) -> Any:
    """Turns a query or header string into the schema's type when it is spelled right."""
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    if kind == "integer" and _INTEGER.match(raw):
        return int(raw)
    if kind == "number" and _NUMBER.match(raw):
        number = float(raw)
        return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
    return raw


_FAST_KEYWORDS = {"type", "minimum", "maximum", "enum", "pattern", "maxLength", "minLength", "default",
                  "description", "examples", "items", "minItems", "maxItems"}
_PYTHON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def fast_check(schema: Schema) -> Callable[[Any], bool] | None:
    """A quick yes-or-no for the simple schemas parameters use; jsonschema runs only to explain a "no".

    The rules are the schema's own (read here, not re-typed); a schema with any other keyword gets None.
    """
    if not isinstance(schema, dict) or set(schema) - _FAST_KEYWORDS or schema.get("type") not in _PYTHON_TYPES:
        return None
    kind = _PYTHON_TYPES[schema["type"]]
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    enum = frozenset(schema["enum"]) if "enum" in schema else None
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    min_length, max_length = schema.get("minLength", 0), schema.get("maxLength")
    item_check = fast_check(schema["items"]) if "items" in schema else None
    if "items" in schema and item_check is None:
        return None
    min_items, max_items = schema.get("minItems", 0), schema.get("maxItems")

    def check(value: Any) -> bool:
        if type(value) is not kind:  # bool is not an int here, as in JSON Schema
            return False
        if enum is not None and value not in enum:
            return False
        if kind is int:
            return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
        if kind is str:
            return (len(value) >= min_length and (max_length is None or len(value) <= max_length)
                    and (pattern is None or pattern.search(value) is not None))
        if kind is list:
            return (len(value) >= min_items and (max_items is None or len(value) <= max_items)
                    and (item_check is None or all(map(item_check, value))))
        return True

    return check


class OperationValidator:
    """Validators for one operation, compiled once."""

    def __init__(self, operation: OperationSpec) -> None:
        self.operation = operation
        self._parameters = [(p, _validator(p.schema)) for p in operation.parameters]
        self._fast = {p.name: fast_check(p.schema) for p in operation.parameters}
        # Per parameter, what `check` needs on every request, worked out once.
        self._plan = [
            (p, validator, self._fast[p.name], p.location, p.name.lower(),
             p.name if p.location != "header" else f"header {p.name}",
             p.schema.get("default") if isinstance(p.schema, dict) else None,
             isinstance(p.schema, dict) and "default" in p.schema,
             p.type)
            for p, validator in self._parameters
        ]
        self._body = _validator(operation.body_schema) if operation.body_schema is not None else None

    def _parameter_value(self, parameter: ParameterSpec, raws: Sequence[str], kind: str) -> tuple[Any, Violation | None]:
        schema = parameter.schema if isinstance(parameter.schema, dict) else {}
        if kind == "array":
            item_type = schema.get("items", {}).get("type", "string")
            if parameter.explode:
                parts = list(raws)
            else:
                if len(raws) > 1:
                    return None, Violation(parameter.name, "must be sent once, as a comma-separated list", parameter.pointer, "style")
                parts = raws[0].split(",") if raws[0] != "" else []
            return [_coerce_scalar(part, item_type) for part in parts], None
        if len(raws) > 1:
            return None, Violation(parameter.name, "must be sent once", parameter.pointer, "duplicate")
        return _coerce_scalar(raws[0], kind), None

    def check(
        self,
        path_params: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes | None,
        content_type: str | None,
    ) -> CheckedRequest:
        checked = CheckedRequest()
        violations = checked.violations
        authorization = headers.get("authorization")
        if authorization is None:
            violations.append(Violation("header Authorization", "a bearer token is required", "#/components/securitySchemes/bearerAuth", "security"))
        else:
            match = _BEARER.match(authorization)
            if match is None:
                violations.append(Violation("header Authorization", "must be 'Bearer <token>'", "#/components/securitySchemes/bearerAuth", "security"))
            else:
                checked.token = match.group(1)

        query_values: dict[str, list[str]] = {}
        for name, value in query:
            query_values.setdefault(name, []).append(value)
        params = checked.params
        for parameter, validator, fast, location, header_key, label, default, has_default, kind in self._plan:
            name = parameter.name
            if location == "query":
                raws = query_values.get(name)
            elif location == "path":
                raws = [path_params[name]] if name in path_params else None
            else:
                raws = [headers[header_key]] if header_key in headers else None
            if raws is None:
                if parameter.required:
                    violations.append(Violation(label, f"{parameter.label} is required", parameter.pointer, "required"))
                elif has_default:
                    params[name] = default
                continue
            if len(raws) == 1 and kind == "string":
                value, problem = raws[0], None
            else:
                value, problem = self._parameter_value(parameter, raws, kind)
            if problem is not None:
                violations.append(problem)
                continue
            if value == "" and not parameter.allow_empty and location == "query" and kind != "string":
                violations.append(Violation(label, "must not be empty", parameter.pointer, "empty"))
                continue
            if fast is not None and fast(value):
                params[name] = value
                continue
            problems = _schema_violations(validator, value, label, parameter.pointer, nested=False)
            violations.extend(problems)
            if not problems:
                checked.params[parameter.name] = value

        if self._body is not None:
            self._check_body(checked, body, content_type)
        return checked

    def overlook_missing(self, checked: CheckedRequest) -> None:
        """What a lax API does with a request that lacks required values: fill them in (from the contract's examples)."""
        missing = [v for v in checked.violations if v.rule == "required"]
        checked.violations = [v for v in checked.violations if v.rule != "required"]
        if not missing:
            return
        for parameter in self.operation.parameters:
            if parameter.name not in checked.params and parameter.example is not None:
                checked.params[parameter.name] = parameter.example
        if isinstance(checked.body, dict) and isinstance(self.operation.body_example, dict):
            checked.body = {**self.operation.body_example, **checked.body}
        elif checked.body is None and self.operation.body_example is not None:
            checked.body = dict(self.operation.body_example)

    def _check_body(self, checked: CheckedRequest, body: bytes | None, content_type: str | None) -> None:
        operation = self.operation
        pointer = operation.body_pointer or operation.pointer
        if not body:
            if operation.body_required:
                checked.violations.append(Violation("body", "a JSON request body is required", pointer, "required"))
            return
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            shown = media_type or "nothing"
            checked.violations.append(Violation("header Content-Type", f"expected application/json, got {shown}", pointer, "content-type"))
            return
        if len(body) > MAX_BODY_BYTES:
            checked.violations.append(Violation("body", f"larger than {MAX_BODY_BYTES} bytes", pointer, "size"))
            return
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            reason = "not UTF-8" if "utf-8" in str(error).lower() else f"not valid JSON ({error})"
            checked.violations.append(Violation("body", reason, pointer, "json"))
            return
        problems = _schema_violations(self._body, value, "body", pointer + "/content/application~1json/schema")
        checked.violations.extend(problems)
        checked.body = value
