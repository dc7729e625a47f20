"""The admin API's contract (`contracts/admin.openapi.yaml`), applied with the same validator as the API's.

The admin routes, the `--fault` and `--rate-limit-*` options and the
`X-Lcphone-Fault` header all check their values here, so that one set of rules
(and one wording of the problems) holds wherever a setting comes from.
"""

from __future__ import annotations

import functools
from typing import Any

from . import files
from .model import Contract
from .requests import OperationValidator, Violation, schema_validator, schema_violations


@functools.lru_cache(maxsize=1)
def admin_contract() -> Contract:
    return Contract(files.admin_document(), "admin")


@functools.cache
def validator(operation_id: str) -> OperationValidator:
    return OperationValidator(admin_contract().operations[operation_id])


@functools.cache
def _schema_validator(name: str):
    return schema_validator(admin_contract().schema(name))


def _schema_at(pointer: str) -> Any:
    """The admin document's schema at a violation's pointer, its `$ref` followed."""
    found: Any = files.admin_document()
    for part in pointer.removeprefix("#/").split("/"):
        if not isinstance(found, dict):
            return None
        found = found.get(part.replace("~1", "/").replace("~0", "~"))
    if isinstance(found, dict) and "$ref" in found:
        return _schema_at(found["$ref"])
    return found


def described(violation: Violation) -> str:
    """A violation in words; a field the schema does not know is named with those it does."""
    if violation.rule == "additionalProperties":
        schema = _schema_at(violation.pointer)
        known = ", ".join(schema.get("properties", {})) if isinstance(schema, dict) else ""
        if known:
            return f"{violation} (known: {known})"
    return str(violation)


def schema_problems(name: str, value: Any) -> list[str]:
    """What is wrong with `value` as the admin contract's schema `name`, one line per problem."""
    pointer = f"#/components/schemas/{name}"
    return [described(v) for v in schema_violations(_schema_validator(name), value, "body", pointer)]


def fault_problems(rule: Any) -> list[str]:
    return schema_problems("FaultRule", rule)


def rate_limit_problems(policy: Any) -> list[str]:
    return schema_problems("RateLimitPolicy", policy)
