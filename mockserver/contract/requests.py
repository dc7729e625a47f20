"""Checks a raw HTTP request against an operation of the contract.

The same check serves two masters: the sandbox answers 4xx with its
violations, and the pytest plugin's conformance verdict lists them, each with
the contract location of the rule broken.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

from ..errors import quoted
from .fast_check import fast_check
from .model import OperationSpec, ParameterSpec, Schema

MAX_BODY_BYTES = 64 * 1024
_INTEGER = re.compile(r"^[+-]?[0-9]{1,18}$")
_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_BEARER = re.compile(r"^Bearer +(\S+)\s*$", re.IGNORECASE)
SECURITY_POINTER = "#/components/securitySchemes/Location-Access"


@dataclass(frozen=True)
class Violation:
    """One way a request breaks the contract."""

    field: str  # what is wrong, in the client's words: "pageSize", "header Version", "phoneNumber"
    message: str
    pointer: str  # the contract location of the rule
    rule: str  # required | type | enum | maximum | content-type | json | security | ...

    def __str__(self) -> str:
        # "countryCode is required", as the vendor words it; "pageSize: 5000 is greater than..." otherwise.
        return f"{self.field} {self.message}" if self.rule == "required" else f"{self.field}: {self.message}"


def route_violation(method: str, path: str) -> Violation:
    """A request for a path or method that no operation of the contract serves."""
    return Violation("path", f"no operation of the contract serves {method} {quoted(path)[1:-1]}", "#/paths", "route")


@dataclass
class CheckedRequest:
    """The request's values, typed as the contract says, and what was wrong with it."""

    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    token: str | None = None
    violations: list[Violation] = field(default_factory=list)


def schema_validator(schema: Schema) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FormatChecker())


def describe(error: SchemaError) -> tuple[str, str]:
    """A short message for a schema error, and the rule it broke; a client's value is quoted only in part."""
    rule = str(error.validator)
    value = quoted(error.instance)
    if rule == "enum" and isinstance(error.validator_value, list):
        allowed = error.validator_value
        shown = ", ".join(map(str, allowed)) if len(allowed) <= 8 else f"one of the {len(allowed)} allowed values"
        return f"{value} is not one of {shown}", rule
    if rule == "multipleOf" and error.validator_value == 1:
        return f"{value} is not a whole number", rule
    if rule == "not":
        return "must not be present", "forbidden"
    if rule == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{value} is not of type {expected}", rule
    if rule == "pattern":
        return f"{value} does not match {error.validator_value}", rule
    if rule in ("maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum"):
        return error.message.replace(repr(error.instance), value), rule
    return error.message if len(error.message) <= 300 else f"{value} is not valid ({rule})", rule


def schema_violations(
    validator: Draft202012Validator, value: Any, label: str, pointer: str, nested: bool = True
) -> list[Violation]:
    """One violation per schema error; `nested` names body fields by their path (`a.b`), parameters by name only."""
    violations = []
    for error in sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.path)), str(e.validator))):
        path = ".".join(str(part) for part in error.absolute_path) if nested else ""
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            name = f"{label}.{path}.{missing}" if path else f"{label}.{missing}"
            violations.append(Violation(name.removeprefix("body."), "is required", pointer, "required"))
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
            for extra in sorted(set(error.instance) - known, key=str)[:10]:
                name = f"{label}.{path}.{quoted(extra, 60)[1:-1]}" if path else f"{label}.{quoted(extra, 60)[1:-1]}"
                violations.append(
                    Violation(name.removeprefix("body."), "is not a known field", pointer, "additionalProperties")
                )
            continue
        message, rule = describe(error)
        name = f"{label}.{path}" if path else label
        violations.append(Violation(name.removeprefix("body."), message, pointer, rule))
    return violations


def nul_violations(value: Any, pointer: str, name: str = "") -> list[Violation]:
    """One violation per string of a JSON body (or key) that holds a NUL character (\\u0000), named by its path."""
    message = "must not contain a NUL character (\\u0000)"
    if isinstance(value, str):
        return [Violation(name or "body", message, pointer, "character")] if "\x00" in value else []
    found: list[Violation] = []
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{name}.{key}" if name else str(key)
            if "\x00" in key:
                found.append(Violation(f"field name {quoted(path)}", message, pointer, "character"))
            found.extend(nul_violations(item, pointer, path))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(nul_violations(item, pointer, f"{name}[{index}]"))
    return found


def _coerce_scalar(raw: str, kind: str) -> Any:
    """Turns a query or header string into the schema's type when it is spelled right.

    Where the vendor types a parameter `number`, `10.0` is a number like `10` (D27).
    """
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    if kind == "integer" and _INTEGER.match(raw):
        return int(raw)
    if kind == "number" and _NUMBER.match(raw):
        number = float(raw)
        if not math.isfinite(number):
            return raw  # too large to be a number: refused as the wrong type
        if _INTEGER.match(raw):
            return int(raw)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return raw


def _list_values(parameter: ParameterSpec, query_values: Mapping[str, list[str]]) -> list[str] | None:
    """A list parameter's items, in whichever wire forms it accepts: repeated keys, `name[]`, comma-joined (D27)."""
    forms = parameter.list_forms
    raws = list(query_values.get(parameter.name, ()))
    if "brackets" in forms:
        raws += query_values.get(parameter.name + "[]", ())
    if not raws and parameter.name not in query_values:
        return None
    items: list[str] = []
    for raw in raws:
        items += raw.split(",") if "comma" in forms and raw != "" else [raw]
    return items


REMEMBERED_REQUESTS = 2048  # verdicts kept per operation and version
REMEMBERED_SIZE = 512  # characters of query, path and Authorization beyond which a verdict is not kept


class OperationValidator:
    """Validators for one operation, compiled once."""

    def __init__(self, operation: OperationSpec) -> None:
        self.operation = operation
        # Per parameter, what `check` needs on every request, worked out once.
        self._plan = [
            (
                p,
                schema_validator(p.schema),
                fast_check(p.schema),
                p.location,
                p.name.lower(),
                p.name if p.location != "header" else f"header {p.name}",
                p.schema.get("default") if isinstance(p.schema, dict) else None,
                isinstance(p.schema, dict) and "default" in p.schema,
                p.type,
            )
            for p in operation.parameters
        ]
        self._body = schema_validator(operation.body_schema) if operation.body_schema is not None else None
        self._fast_body = fast_check(operation.body_schema) if operation.body_schema is not None else None
        self._header_keys = tuple(p.name.lower() for p in operation.parameters if p.location == "header")
        self._remembered: dict[tuple, CheckedRequest] = {}

    def _parameter_value(
        self, parameter: ParameterSpec, raws: Sequence[str], kind: str
    ) -> tuple[Any, Violation | None]:
        schema = parameter.schema if isinstance(parameter.schema, dict) else {}
        if kind == "array":
            item_type = schema.get("items", {}).get("type", "string")
            if parameter.list_forms or parameter.explode:
                parts = list(raws)
            else:
                if len(raws) > 1:
                    return None, Violation(
                        parameter.name, "must be sent once, as a comma-separated list", parameter.pointer, "style"
                    )
                parts = raws[0].split(",") if raws[0] != "" else []
            return [_coerce_scalar(part, item_type) for part in parts], None
        if parameter.list_forms:  # a comma-separated string: repeated keys and brackets join the same way
            return ",".join(raws), None
        if len(raws) > 1:
            return None, Violation(parameter.name, "must be sent once", parameter.pointer, "duplicate")
        return _coerce_scalar(raws[0], kind), None

    def check_without_body(
        self,
        query_string: str,
        path_params: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
    ) -> CheckedRequest:
        """`check` of a request without a body, remembered: clients repeat the same requests, and the verdict on
        the same query, path and headers is the same. Only short requests are remembered, a bounded number."""
        authorization = headers.get("authorization")
        size = len(query_string) + len(authorization or "")
        sent: list[str | None] = [query_string, authorization]
        for value in path_params.values():  # plain loops: this runs on every request
            sent.append(value)
            size += len(value)
        for name in self._header_keys:
            header = headers.get(name)  # None: not sent
            sent.append(header)
            size += len(header or "")
        if self._body is not None or size > REMEMBERED_SIZE:
            return self.check(path_params, query, headers, None, None)
        key = tuple(sent)
        known = self._remembered.get(key)
        if known is None:
            known = self.check(path_params, query, headers, None, None)
            if len(self._remembered) >= REMEMBERED_REQUESTS:
                del self._remembered[next(iter(self._remembered))]
            self._remembered[key] = known
        return CheckedRequest(dict(known.params), None, known.token, list(known.violations))

    def check(
        self,
        path_params: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes | None,
        content_type: str | None,
    ) -> CheckedRequest:
        """The request's typed values and every way it breaks the operation's contract (headers: lowercased)."""
        checked = CheckedRequest()
        if self.operation.bearer:
            self._check_bearer(checked, headers.get("authorization"))
        query_values: dict[str, list[str]] = {}
        for name, value in query:
            query_values.setdefault(name, []).append(value)
        self._check_parameters(checked, path_params, query_values, headers)
        if self._body is not None:
            self._check_body(checked, body, content_type)
        return checked

    @staticmethod
    def _check_bearer(checked: CheckedRequest, authorization: str | None) -> None:
        if authorization is None:
            checked.violations.append(
                Violation("header Authorization", "is required: send a bearer token", SECURITY_POINTER, "security")
            )
            return
        match = _BEARER.match(authorization)
        if match is None:
            checked.violations.append(
                Violation("header Authorization", "must be 'Bearer <token>'", SECURITY_POINTER, "security")
            )
        else:
            checked.token = match.group(1)

    def _check_parameters(
        self,
        checked: CheckedRequest,
        path_params: Mapping[str, str],
        query_values: Mapping[str, list[str]],
        headers: Mapping[str, str],
    ) -> None:
        violations, params = checked.violations, checked.params
        for parameter, validator, fast, location, header_key, label, default, has_default, kind in self._plan:
            name = parameter.name
            raws: Sequence[str] | None
            if location == "query":
                raws = _list_values(parameter, query_values) if parameter.list_forms else query_values.get(name)
            elif location == "path":
                raws = [path_params[name]] if name in path_params else None
            else:
                raws = [headers[header_key]] if header_key in headers else None
            if raws is None:
                if parameter.required:
                    violations.append(Violation(label, "is required", parameter.pointer, "required"))
                elif has_default:
                    params[name] = default
                continue
            if len(raws) == 1 and kind == "string" and not parameter.list_forms:
                value, problem = raws[0], None
            else:
                value, problem = self._parameter_value(parameter, raws, kind)
            empty = value == "" and not parameter.allow_empty and location == "query" and kind != "string"
            if problem is None and empty:
                problem = Violation(label, "must not be empty", parameter.pointer, "empty")
            if problem is not None:
                violations.append(problem)
            elif fast is not None and fast(value):
                params[name] = value
            else:
                problems = schema_violations(validator, value, label, parameter.pointer, nested=False)
                violations.extend(problems)
                if not problems:
                    params[name] = value

    def _check_body(self, checked: CheckedRequest, body: bytes | None, content_type: str | None) -> None:
        operation = self.operation
        assert self._body is not None
        pointer = operation.body_pointer or operation.pointer
        if not body:
            if operation.body_required:
                checked.violations.append(
                    Violation("body", "is required: send a JSON request body", pointer, "required")
                )
            return
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            shown = quoted(media_type, 60) if media_type else "nothing"
            checked.violations.append(
                Violation("header Content-Type", f"expected application/json, got {shown}", pointer, "content-type")
            )
            return
        if len(body) > MAX_BODY_BYTES:
            checked.violations.append(Violation("body", f"larger than {MAX_BODY_BYTES} bytes", pointer, "size"))
            return
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            reason = "not UTF-8" if "utf-8" in str(error).lower() else f"not valid JSON ({str(error)[:120]})"
            checked.violations.append(Violation("body", reason, pointer, "json"))
            return
        checked.body = value
        if b"\\u0000" in body:  # the only way a JSON text holds a NUL: no store keeps one, PostgreSQL refuses it
            checked.violations.extend(nul_violations(value, pointer))
        if self._fast_body is not None and self._fast_body(value):
            return
        problems = schema_violations(self._body, value, "body", pointer + "/content/application~1json/schema")
        checked.violations.extend(problems)
