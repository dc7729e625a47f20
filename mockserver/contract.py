"""The contracts, indexed for serving: one per API version, with operations, parameters, bodies and responses.

Built once from the bundled documents (`contract_files`); every rule the sandbox
applies to a request (which parameters, which types, which scopes, which
Version) is read from here, never re-typed in code.

Each response schema exists in two profiles (DECISIONS.md, D25): `promised`, the
vendor's required lists, which `lcphone verify` holds a real API to; and
`sandbox`, where every object also requires the fields its `x-lcphone-sends`
lists, which lcphone's own tests hold the sandbox to.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from . import contract_files
from .contract_files import LATEST, VERSIONS

Schema = dict[str, Any] | bool
Profile = Literal["promised", "sandbox"]
SENDS = "x-lcphone-sends"
LIST_FORMS = "x-lcphone-list"


def json_pointer(*parts: str) -> str:
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s (a bundled contract has only local ones)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def inline_refs(document: dict[str, Any], node: Any) -> Any:
    """A copy of `node` with every local `$ref` replaced by its target (the contract has no cycles).

    Sibling keywords of a `$ref` (allowed in OpenAPI 3.1) are kept beside the target's.
    """
    if isinstance(node, dict):
        if "$ref" in node:
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            target = inline_refs(document, _resolve(document, {"$ref": node["$ref"]}))
            if siblings and isinstance(target, dict):
                return {**target, **inline_refs(document, siblings)}
            return target
        return {key: inline_refs(document, value) for key, value in node.items()}
    if isinstance(node, list):
        return [inline_refs(document, item) for item in node]
    return node


def with_sent_fields(schema: Any) -> Any:
    """The sandbox profile of a schema: each object also requires what its `x-lcphone-sends` lists."""
    if isinstance(schema, dict):
        copied = {key: with_sent_fields(value) for key, value in schema.items()}
        if SENDS in copied:
            copied["required"] = list(dict.fromkeys([*copied.get("required", []), *copied[SENDS]]))
        return copied
    if isinstance(schema, list):
        return [with_sent_fields(item) for item in schema]
    return schema


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    location: str  # query | path | header
    required: bool
    schema: Schema
    pointer: str  # where the contract declares it
    explode: bool = True
    allow_empty: bool = False
    example: Any = None
    list_forms: tuple[str, ...] = ()  # wire forms of a list: repeated, comma, brackets (D27)

    @property
    def type(self) -> str:
        return self.schema.get("type", "string") if isinstance(self.schema, dict) else "string"

    @property
    def label(self) -> str:
        return {"query": "query parameter", "path": "path parameter", "header": "header"}[self.location]


@dataclass(frozen=True)
class ResponseSpec:
    status: str
    schema: Schema | None  # the promised profile
    sandbox_schema: Schema | None  # the sandbox profile
    headers: dict[str, Schema]
    required_headers: frozenset[str]
    pointer: str

    def schema_for(self, profile: Profile) -> Schema | None:
        return self.sandbox_schema if profile == "sandbox" else self.schema


@dataclass(frozen=True)
class OperationSpec:
    operation_id: str
    version: str
    method: str
    path: str  # template, e.g. /phone-system/numbers/location/{locationId}
    scopes: tuple[str, ...]
    parameters: tuple[ParameterSpec, ...]
    body_schema: Schema | None
    body_required: bool
    body_pointer: str | None
    body_example: Any = None
    responses: dict[str, ResponseSpec] = field(default_factory=dict)
    bearer: bool = True  # whether the operation needs `Authorization: Bearer` (the admin API's do not)

    @functools.cached_property
    def pointer(self) -> str:
        return json_pointer("paths", self.path, self.method.lower())

    def parameter(self, name: str, location: str | None = None) -> ParameterSpec | None:
        for parameter in self.parameters:
            if parameter.name == name and (location is None or parameter.location == location):
                return parameter
        return None

    @property
    def version_header(self) -> ParameterSpec | None:
        """The Version header, when this operation requires it at this version."""
        header = self.parameter("Version", "header")
        return header if header is not None and header.required else None

    def response(self, status: int) -> ResponseSpec | None:
        return (
            self.responses.get(str(status))
            or self.responses.get(f"{str(status)[0]}XX")
            or self.responses.get("default")
        )


class Contract:
    """One version's contract."""

    def __init__(self, document: dict[str, Any], version: str) -> None:
        self.document = document
        self.version = version
        self.operations: dict[str, OperationSpec] = {}
        for path, item in document["paths"].items():
            for method, raw in item.items():
                if method in {"get", "post", "put", "patch", "delete"}:
                    spec = self._operation(path, method, item, raw)
                    self.operations[spec.operation_id] = spec

    def _parameter(self, param: dict[str, Any], where: tuple[str, ...]) -> ParameterSpec:
        doc = self.document
        return ParameterSpec(
            name=param["name"],
            location=param["in"],
            required=bool(param.get("required", False)),
            schema=inline_refs(doc, param.get("schema", {})),
            pointer=json_pointer(*where),
            explode=param.get("explode", param.get("style", "form") == "form"),
            allow_empty=bool(param.get("allowEmptyValue", False)),
            example=param.get("example"),
            list_forms=tuple(param.get(LIST_FORMS, ())),
        )

    def _operation(self, path: str, method: str, item: dict[str, Any], raw: dict[str, Any]) -> OperationSpec:
        doc = self.document
        base = ("paths", path, method)
        declared: list[tuple[tuple[str, ...], Any]] = [
            (("paths", path, "parameters", str(i)), p) for i, p in enumerate(item.get("parameters", []))
        ]
        declared += [((*base, "parameters", str(i)), p) for i, p in enumerate(raw.get("parameters", []))]
        parameters = tuple(self._parameter(_resolve(doc, ref), where) for where, ref in declared)
        body_schema: Schema | None = None
        body_required = False
        body_pointer = None
        body_example = None
        if "requestBody" in raw:
            body = _resolve(doc, raw["requestBody"])
            body_required = bool(body.get("required", False))
            body_schema = inline_refs(doc, body["content"]["application/json"]["schema"])
            body_example = body["content"]["application/json"].get("example")
            body_pointer = json_pointer(*base, "requestBody")
        security = raw.get("security", doc.get("security", []))
        scopes = tuple(scope for requirement in security for roles in requirement.values() for scope in roles)
        schemes = doc.get("components", {}).get("securitySchemes", {})
        bearer = any(
            schemes.get(name, {}).get("scheme") == "bearer" for requirement in security for name in requirement
        )
        responses = {}
        for status, ref in raw.get("responses", {}).items():
            response = _resolve(doc, ref)
            content = response.get("content", {}).get("application/json")
            headers = {name: _resolve(doc, header) for name, header in (response.get("headers") or {}).items()}
            schema = inline_refs(doc, content["schema"]) if content else None
            responses[str(status)] = ResponseSpec(
                status=str(status),
                schema=schema,
                sandbox_schema=with_sent_fields(schema) if schema is not None else None,
                headers={name: inline_refs(doc, h.get("schema", {})) for name, h in headers.items()},
                required_headers=frozenset(name for name, h in headers.items() if h.get("required")),
                pointer=json_pointer(*base, "responses", str(status)),
            )
        return OperationSpec(
            operation_id=raw["operationId"],
            version=self.version,
            method=method.upper(),
            path=path,
            scopes=scopes,
            parameters=parameters,
            body_schema=body_schema,
            body_required=body_required,
            body_pointer=body_pointer,
            body_example=body_example,
            responses=responses,
            bearer=bearer,
        )

    def match(self, method: str, path: str) -> OperationSpec | None:
        """The operation that serves `method path` (a concrete path, e.g. with a real location id)."""
        found = self.match_with_path_params(method, path)
        return found[0] if found else None

    def match_with_path_params(self, method: str, path: str) -> tuple[OperationSpec, dict[str, str]] | None:
        for operation, pattern in self._patterns:
            if operation.method == method.upper():
                matched = pattern.fullmatch(path)
                if matched:
                    return operation, matched.groupdict()
        return None

    def methods_for(self, path: str) -> list[str]:
        """The methods the contract serves on a concrete path (empty for an unknown path)."""
        return [operation.method for operation, pattern in self._patterns if pattern.fullmatch(path)]

    @functools.cached_property
    def _patterns(self) -> list[tuple[OperationSpec, re.Pattern[str]]]:
        def compile_template(template: str) -> re.Pattern[str]:
            parts = re.split(r"(\{[^}]+\})", template)
            return re.compile("".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts))

        return [(op, compile_template(op.path)) for op in self.operations.values()]

    def schema(self, name: str) -> Schema:
        """A component schema with its references inlined."""
        return inline_refs(self.document, self.document["components"]["schemas"][name])


@functools.lru_cache(maxsize=len(VERSIONS))
def load(version: str = LATEST) -> Contract:
    """One version's shipped contract, indexed (cached: it is read-only)."""
    return Contract(contract_files.contract_document(version), version)


def all_versions() -> dict[str, Contract]:
    """Every version's contract, newest first."""
    return {version: load(version) for version in VERSIONS}


def operation(operation_id: str, version: str = LATEST) -> OperationSpec:
    return load(version).operations[operation_id]
