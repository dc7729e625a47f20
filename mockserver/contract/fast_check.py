"""Quick yes-or-no checks for the simple schemas that parameters and request bodies use.

A request that conforms (nearly every one) is passed by a plain Python check built once from its schema;
jsonschema runs only to explain a "no". The rules are the schema's own, read here, never re-typed; a schema
with any keyword these checks do not know gets no quick check (None), and jsonschema decides alone. A property
test proves the quick checks agree with jsonschema.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .model import Schema

Check = Callable[[Any], bool]

SCALAR_KEYWORDS = frozenset(
    {
        "type",
        "minimum",
        "maximum",
        "enum",
        "pattern",
        "maxLength",
        "minLength",
        "default",
        "description",
        "examples",
        "items",
        "minItems",
        "maxItems",
        "multipleOf",
    }
)
OBJECT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties", "description", "examples"})
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "number": (int, float),
    "null": (type(None),),
}


def fast_check(schema: Schema) -> Check | None:
    """A quick check of `schema`, or None where only jsonschema can decide."""
    if isinstance(schema, dict) and schema.get("type") == "object":
        return _object_check(schema)
    if not isinstance(schema, dict) or set(schema) - SCALAR_KEYWORDS:
        return None
    kinds = _kinds(schema)
    if kinds is None or schema.get("multipleOf") not in (None, 1):
        return None
    if "enum" in schema and (bool in kinds and kinds & {int, float}):
        return None  # True == 1 in Python, not in JSON Schema
    try:
        enum = frozenset(schema["enum"]) if "enum" in schema else None
    except TypeError:  # an enum of objects or arrays
        return None
    if kinds == {str}:
        return _string_check(schema, enum)
    if kinds == {bool} and enum is None:
        return lambda value: type(value) is bool
    return _general_check(schema, kinds, enum)


def _kinds(schema: dict[str, Any]) -> frozenset[type] | None:
    """The Python types the schema's `type` admits (bool is not an int here, as in JSON Schema)."""
    names = schema.get("type")
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names or any(name not in PYTHON_TYPES for name in names):
        return None
    return frozenset(kind for name in names for kind in PYTHON_TYPES[name])


def _object_check(schema: dict[str, Any]) -> Check | None:
    """An object whose every property has a quick check (a request body)."""
    if set(schema) - OBJECT_KEYWORDS or schema.get("additionalProperties", True) not in (True, False):
        return None
    properties = {name: fast_check(sub) for name, sub in schema.get("properties", {}).items()}
    if any(check is None for check in properties.values()):
        return None
    required = tuple(schema.get("required", ()))
    closed = schema.get("additionalProperties", True) is False

    def check(value: Any) -> bool:
        if type(value) is not dict or any(name not in value for name in required):
            return False
        for name, item in value.items():
            item_check = properties.get(name)
            if item_check is None:
                if closed:
                    return False
            elif not item_check(item):
                return False
        return True

    return check


def _string_check(schema: dict[str, Any], enum: frozenset[Any] | None) -> Check:
    """The most common shape, as plain as it can be (a body checks a dozen of them)."""
    shortest = schema.get("minLength", 0)
    longest = schema.get("maxLength", math.inf)
    if enum is not None:
        return lambda value: type(value) is str and value in enum and shortest <= len(value) <= longest
    if "pattern" not in schema:
        return lambda value: type(value) is str and shortest <= len(value) <= longest
    search = re.compile(schema["pattern"]).search
    return lambda value: type(value) is str and shortest <= len(value) <= longest and search(value) is not None


def _general_check(schema: dict[str, Any], kinds: frozenset[type], enum: frozenset[Any] | None) -> Check | None:
    """Numbers, arrays, and unions of types."""
    item_check = fast_check(schema["items"]) if "items" in schema else None
    if "items" in schema and item_check is None:
        return None
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    whole = schema.get("multipleOf") == 1
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    min_length, max_length = schema.get("minLength", 0), schema.get("maxLength")
    min_items, max_items = schema.get("minItems", 0), schema.get("maxItems")

    def check(value: Any) -> bool:
        kind = type(value)
        if kind not in kinds or (enum is not None and value not in enum):
            return False
        if kind is int or kind is float:
            return (
                (minimum is None or value >= minimum)
                and (maximum is None or value <= maximum)
                and (not whole or kind is int)
            )
        if kind is str:
            return (
                len(value) >= min_length
                and (max_length is None or len(value) <= max_length)
                and (pattern is None or pattern.search(value) is not None)
            )
        if kind is list:
            return (
                len(value) >= min_items
                and (max_items is None or len(value) <= max_items)
                and (item_check is None or all(map(item_check, value)))
            )
        return True

    return check
