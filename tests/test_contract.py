"""The contract documents: valid OpenAPI 3.1, examples that match their schemas, complete against the reference."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from mockserver.contract import files as contract_files
from mockserver.contract.files import contracts_dir, decisions_path
from mockserver.contract.model import inline_refs, load, with_sent_fields
from mockserver.contract.operations import registry as operations
from mockserver.contract.versions import contract_document, load_contract, registry

VERSIONS = registry().names

REFERENCE = (contracts_dir() / "reference" / "lc-phone-api-v3.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("version", VERSIONS)
def test_each_contract_is_a_valid_openapi_31_document(version: str) -> None:
    document = load_contract(version)
    assert document["openapi"].startswith("3.1") and document["info"]["version"] == version
    validate(document)


def test_the_admin_contract_is_a_valid_openapi_document() -> None:
    validate(dict(contract_files.admin_document()))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_bundled_contract_has_only_local_references(version: str) -> None:
    text = str(contract_document(version))
    assert "lc-phone-common.yaml" not in text
    assert load_contract(version) == contract_document(version) and load_contract(version) is not contract_document(
        version
    )


def test_the_versions_serve_the_same_operations() -> None:
    shapes = [{(op.method, op.path): op.operation_id for op in load(v).operations.values()} for v in VERSIONS]
    assert shapes[0] == shapes[1] and len(shapes[0]) == 4


def _examples(version: str) -> Iterator[tuple[str, Any, Any]]:
    """(where, schema, example) for every example of a request body, response, parameter and header."""
    document = contract_document(version)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{version} {method.upper()} {path}"
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media:
                yield f"{where} request body", media["schema"], media["example"]
            for status, response in operation["responses"].items():
                response = inline_refs(document, response)
                media = response.get("content", {}).get("application/json")
                if media is None:
                    continue
                examples = (
                    [media["example"]] if "example" in media else [e["value"] for e in media["examples"].values()]
                )
                for example in examples:
                    yield f"{where} {status}", media["schema"], example
            for parameter in operation.get("parameters", []):
                parameter = inline_refs(document, parameter)
                yield f"{where} parameter {parameter['name']}", parameter["schema"], parameter["example"]
    for name, header in document["components"]["headers"].items():
        yield f"{version} header {name}", header["schema"], header["example"]


EXAMPLES = [example for version in VERSIONS for example in _examples(version)]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_request_body_and_response_has_an_example(version: str) -> None:
    document = contract_document(version)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert "example" in operation["requestBody"]["content"]["application/json"], f"{method} {path}"
            for status, response in operation["responses"].items():
                media = inline_refs(document, response).get("content", {}).get("application/json")
                assert media and ("example" in media or "examples" in media), f"{method} {path} {status}"


@pytest.mark.parametrize(("where", "schema", "example"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_matches_its_schema_in_both_profiles(where: str, schema: Any, example: Any) -> None:
    version = where.split(" ", 1)[0]
    promised = inline_refs(contract_document(version), schema)
    for profile in (promised, with_sent_fields(promised)):
        errors = [e.message for e in Draft202012Validator(profile).iter_errors(example)]
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
    document = contract_document("v3")
    media = document["paths"][path][method]["responses"][status]["content"]["application/json"]
    schema, example = inline_refs(document, media["schema"]), media["example"]
    assert Draft202012Validator(schema).is_valid(example)
    assert not Draft202012Validator(schema).is_valid({**example, "data": {**example["data"], legacy_name: True}})
    assert not Draft202012Validator(schema).is_valid({**example, legacy_name: True})


def test_the_sandbox_profile_requires_what_the_sandbox_sends_and_the_promised_one_only_the_vendors() -> None:
    spec = load("v3").operations["listActiveNumbers"].responses["200"]
    item = spec.schema["properties"]["data"]["properties"]["numbers"]["items"]
    strict = spec.sandbox_schema["properties"]["data"]["properties"]["numbers"]["items"]
    assert item["required"] == ["phoneNumber"]  # the vendor's promise (D25)
    assert {"sid", "capabilities", "dateAdded", "origin"} <= set(strict["required"])


# -- completeness against the vendor reference -----------------------------------------------------

_ENDPOINT = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S+)$", re.M)


def _reference_sections() -> Iterator[tuple[str, str, str]]:
    """(method, path, text) for each operation section of the reference."""
    starts = list(_ENDPOINT.finditer(REFERENCE))
    for match, following in zip(starts, [*starts[1:], None], strict=True):
        end = following.start() if following else len(REFERENCE)
        yield match.group(1), match.group(2), REFERENCE[match.end() : end]


SECTIONS = list(_reference_sections())
HEADER_NAMES = {"versión": "Version"}  # the reference was translated; the HTTP header is Version


def test_reference_lists_four_operations_all_in_the_contract() -> None:
    assert len(SECTIONS) == 4
    for method, path, _ in SECTIONS:
        assert operations().match(method, path.replace("{locationId}", "x")) is not None, f"{method} {path}"


@pytest.mark.parametrize(("method", "path", "text"), SECTIONS, ids=[f"{m} {p}" for m, p, _ in SECTIONS])
def test_contract_holds_every_parameter_field_scope_and_status_of_the_reference(
    method: str, path: str, text: str
) -> None:
    found = operations().match(method, path.replace("{locationId}", "x"))
    assert found is not None and found[0].path == path
    operation = found[0].newest  # the reference is the newest version's

    scopes = re.search(r"Scopes requeridos: (.+)", text).group(1).split(", ")
    assert list(operation.scopes) == scopes

    parameters = re.findall(r"^- (\S+) \((query|path|header), (\w+)\)( \(requerido\))?", text, re.M)
    assert parameters
    for name, location, kind, required in parameters:
        name = HEADER_NAMES.get(name, name)
        spec = operation.parameter(name, location)
        assert spec is not None, f"{name} ({location}) is missing"
        assert spec.required == bool(required), f"{name}: required flag"
        assert spec.type == kind, f"{name}: {spec.type}"

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


def test_every_decision_referenced_in_the_contracts_is_written_down() -> None:
    decisions = decisions_path().read_text(encoding="utf-8")
    written = set(re.findall(r"^## D(\d+)\b", decisions, re.M))
    for path in contracts_dir().glob("*.yaml"):
        cited = set(re.findall(r"\bD(\d+)\b", path.read_text(encoding="utf-8")))
        assert cited <= written, f"{path.name} cites decisions not written: {sorted(cited - written, key=int)}"


def test_the_contracts_ship_inside_the_package_data_of_the_wheel() -> None:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    included = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["contracts"] == "mockserver/contracts"
