"""The contract document: valid OpenAPI 3.1, examples that match their schemas, and complete against the reference."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

import contracts
from mockserver.contract import inline_refs, load

DOCUMENT = contracts.contract_document()
REFERENCE = (contracts.CONTRACT_PATH.parent / "reference" / "lc-phone-api-v3.txt").read_text(encoding="utf-8")


def test_contract_is_a_valid_openapi_31_document() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    validate(contracts.load_contract())


def test_contract_exposes_path_and_parsed_document() -> None:
    assert contracts.CONTRACT_PATH.is_file()
    assert contracts.load_contract() == DOCUMENT
    assert contracts.load_contract() is not DOCUMENT  # a private copy


def _examples() -> Iterator[tuple[str, Any, Any]]:
    """(where, schema, example) for every example of a request body, response, parameter and header."""
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media:
                yield f"{where} request body", media["schema"], media["example"]
            for status, response in operation["responses"].items():
                response = inline_refs(DOCUMENT, response)
                media = response.get("content", {}).get("application/json")
                if media is None:
                    continue
                examples = [media["example"]] if "example" in media else [e["value"] for e in media["examples"].values()]
                for example in examples:
                    yield f"{where} {status}", media["schema"], example
            for parameter in operation.get("parameters", []):
                parameter = inline_refs(DOCUMENT, parameter)
                yield f"{where} parameter {parameter['name']}", parameter["schema"], parameter["example"]
    for name, header in DOCUMENT["components"]["headers"].items():
        yield f"header {name}", header["schema"], header["example"]


EXAMPLES = list(_examples())


def test_every_request_body_and_response_has_an_example() -> None:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert "example" in operation["requestBody"]["content"]["application/json"], f"{method} {path}"
            for status, response in operation["responses"].items():
                media = inline_refs(DOCUMENT, response).get("content", {}).get("application/json")
                assert media and ("example" in media or "examples" in media), f"{method} {path} {status}"


@pytest.mark.parametrize(("where", "schema", "example"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_matches_its_schema(where: str, schema: Any, example: Any) -> None:
    validator = Draft202012Validator(inline_refs(DOCUMENT, schema))
    errors = [e.message for e in validator.iter_errors(example)]
    assert not errors, f"{where}: {errors}"


@pytest.mark.parametrize(
    ("path", "method", "status", "legacy_name"),
    [
        ("/phone-system/numbers/location/{locationId}", "get", "200", "isUnderGhl"),
        ("/phone-system/numbers/location/{locationId}", "get", "200", "under_ghl_account"),
        ("/phone-system/numbers/location/{locationId}/purchase", "post", "201", "under_ghl_account"),
        ("/phone-system/numbers/location/{locationId}/purchase", "post", "201", "isUnderGhl"),
    ],
)
def test_legacy_names_are_forbidden_in_v3_responses(path: str, method: str, status: str, legacy_name: str) -> None:
    media = DOCUMENT["paths"][path][method]["responses"][status]["content"]["application/json"]
    schema, example = inline_refs(DOCUMENT, media["schema"]), media["example"]
    assert Draft202012Validator(schema).is_valid(example)
    assert not Draft202012Validator(schema).is_valid({**example, "data": {**example["data"], legacy_name: True}})
    assert not Draft202012Validator(schema).is_valid({**example, legacy_name: True})


# -- completeness against the vendor reference -----------------------------------------------------

_ENDPOINT = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S+)$", re.M)


def _reference_sections() -> Iterator[tuple[str, str, str]]:
    """(method, path, text) for each operation section of the reference."""
    starts = [m for m in _ENDPOINT.finditer(REFERENCE)]
    for match, following in zip(starts, [*starts[1:], None]):
        end = following.start() if following else len(REFERENCE)
        yield match.group(1), match.group(2), REFERENCE[match.end():end]


SECTIONS = list(_reference_sections())
HEADER_NAMES = {"versión": "Version"}  # the reference was translated; the HTTP header is Version


def test_reference_lists_four_operations_all_in_the_contract() -> None:
    assert len(SECTIONS) == 4
    for method, path, _ in SECTIONS:
        assert load().match(method, path.replace("{locationId}", "x")) is not None, f"{method} {path}"


@pytest.mark.parametrize(("method", "path", "text"), SECTIONS, ids=[f"{m} {p}" for m, p, _ in SECTIONS])
def test_contract_holds_every_parameter_field_scope_and_status_of_the_reference(method: str, path: str, text: str) -> None:
    operation = load().match(method, path.replace("{locationId}", "x"))
    assert operation is not None and operation.path == path

    scopes = re.search(r"Scopes requeridos: (.+)", text).group(1).split(", ")
    assert list(operation.scopes) == scopes

    parameters = re.findall(r"^- (\S+) \((query|path|header), (\w+)\)( \(requerido\))?", text, re.M)
    assert parameters
    for name, location, kind, required in parameters:
        name = HEADER_NAMES.get(name, name)
        spec = operation.parameter(name, location)
        assert spec is not None, f"{name} ({location}) is missing"
        assert spec.required == bool(required), f"{name}: required flag"
        expected = {"string": "string", "boolean": "boolean", "array": "array", "number": ("integer", "number")}[kind]
        assert spec.type in (expected if isinstance(expected, tuple) else (expected,)), f"{name}: {spec.type}"

    body_fields = re.findall(r"^- (\w+) \(requerido\) — (\w+) —", text, re.M)
    if body_fields:
        schema = operation.body_schema
        for name, kind in body_fields:
            assert name in schema["properties"], name
            assert name in schema["required"], name
            # numberType is typed "object" in the reference but is a string on the wire (DECISIONS.md, D18)
            expected = "string" if kind == "object" else kind
            assert schema["properties"][name]["type"] == expected, name

    for status in re.findall(r"^- (\d{3}) — ", text, re.M):
        assert status in operation.responses, f"status {status}"


def test_every_decision_referenced_in_the_contract_is_written_down() -> None:
    decisions = contracts.DECISIONS_PATH.read_text(encoding="utf-8")
    cited = set(re.findall(r"\bD(\d+)\b", contracts.CONTRACT_PATH.read_text(encoding="utf-8")))
    written = set(re.findall(r"^## D(\d+)\b", decisions, re.M))
    assert cited <= written, f"decisions cited but not written: {sorted(cited - written, key=int)}"
