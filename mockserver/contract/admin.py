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
from .requests import OperationValidator, schema_validator, schema_violations


@functools.lru_cache(maxsize=1)
def admin_contract() -> Contract:
    return Contract(files.admin_document(), "admin")


@functools.cache
def validator(operation_id: str) -> OperationValidator:
    return OperationValidator(admin_contract().operations[operation_id])


@functools.cache
def _schema_validator(name: str):
    return schema_validator(admin_contract().schema(name))


def schema_problems(name: str, value: Any) -> list[str]:
    """What is wrong with `value` as the admin contract's schema `name`, one line per problem."""
    pointer = f"#/components/schemas/{name}"
    return [str(v) for v in schema_violations(_schema_validator(name), value, "body", pointer)]


def fault_problems(rule: Any) -> list[str]:
    return schema_problems("FaultRule", rule)


def rate_limit_problems(policy: Any) -> list[str]:
    return schema_problems("RateLimitPolicy", policy)
