"""The quick checks that spare jsonschema on ordinary requests never accept what the contract refuses.

For every parameter and body schema of both contracts: values drawn from the schema (mostly valid) and any JSON
(mostly not). Whatever `fast_check` accepts, jsonschema must accept too; a "no" only means jsonschema decides.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from mockserver.contract import load
from mockserver.contract.fast_check import fast_check
from mockserver.contract.versions import registry

VERSIONS = registry().names

SCHEMAS = {
    f"{version} {operation_id} {name}": schema
    for version in VERSIONS
    for operation_id, operation in load(version).operations.items()
    for name, schema in [
        *((p.name, p.schema) for p in operation.parameters),
        *([("body", operation.body_schema)] if operation.body_schema else []),
    ]
    if isinstance(schema, dict)
}


def from_schema(schema: dict) -> st.SearchStrategy:
    """Values near what `schema` allows (its enums, patterns, bounds and properties; each part sometimes wrong)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", "string")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    options = []
    for kind in kinds:
        if kind == "string":
            if "pattern" in schema:
                options.append(st.from_regex(schema["pattern"]))
            longest = schema.get("maxLength", 40)
            options += [st.text(max_size=8), st.text(min_size=max(0, longest - 1), max_size=longest + 1)]
        elif kind in ("integer", "number"):
            low, high = schema.get("minimum"), schema.get("maximum")
            options.append(st.integers(None if low is None else low - 2, None if high is None else high + 2))
            if kind == "number":
                options.append(st.floats(allow_nan=False))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "null":
            options.append(st.none())
        elif kind == "array":
            options.append(st.lists(from_schema(schema.get("items", {})), max_size=schema.get("maxItems", 4) + 1))
        elif kind == "object":
            properties = {name: from_schema(sub) for name, sub in schema.get("properties", {}).items()}
            required = set(schema.get("required", ()))
            options.append(
                st.fixed_dictionaries(
                    {name: value for name, value in properties.items() if name in required},
                    optional={
                        **{name: value for name, value in properties.items() if name not in required},
                        "unknownField": st.text(max_size=5),
                    },
                )
            )
    return st.one_of(options)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=14),
    max_leaves=20,
)


def test_every_schema_of_the_contracts_has_a_quick_check() -> None:
    assert all(fast_check(schema) is not None for schema in SCHEMAS.values()), [
        name for name, schema in SCHEMAS.items() if fast_check(schema) is None
    ]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_what_the_quick_check_accepts_the_contract_accepts(name: str, data: st.DataObject) -> None:
    schema = SCHEMAS[name]
    quick = fast_check(schema)
    assert quick is not None
    value = data.draw(from_schema(schema) | JSON)
    if quick(value):
        assert Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(value), value
