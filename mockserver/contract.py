"""The contract, indexed for serving: operations, their parameters, body and response schemas.

Built once from `contracts.contract_document()`; every rule the sandbox applies
to a request (which parameters, which types, which scopes, which Version) is
read from here, never re-typed in code.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import contracts

Schema = dict[str, Any] | bool


def json_pointer(*parts: str) -> str:
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow one local `$ref` (the contract only uses local ones)."""
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

    @property
    def type(self) -> str:
        return self.schema.get("type", "string") if isinstance(self.schema, dict) else "string"

    @property
    def label(self) -> str:
        return {"query": "query parameter", "path": "path parameter", "header": "header"}[self.location]


@dataclass(frozen=True)
class ResponseSpec:
    status: str
    schema: Schema | None
    headers: dict[str, Schema]
    required_headers: frozenset[str]
    pointer: str


@dataclass(frozen=True)
class OperationSpec:
    operation_id: str
    method: str
    path: str  # template, e.g. /phone-system/numbers/location/{locationId}
    scopes: tuple[str, ...]
    parameters: tuple[ParameterSpec, ...]
    body_schema: Schema | None
    body_required: bool
    body_pointer: str | None
    body_example: Any = None
    responses: dict[str, ResponseSpec] = field(default_factory=dict)

    @property
    def pointer(self) -> str:
        return json_pointer("paths", self.path, self.method.lower())

    def parameter(self, name: str, location: str | None = None) -> ParameterSpec | None:
        for parameter in self.parameters:
            if parameter.name == name and (location is None or parameter.location == location):
                return parameter
        return None

    @property
    def version_header(self) -> ParameterSpec | None:
        header = self.parameter("Version", "header")
        return header if header is not None and header.required else None

    @property
    def location_parameter(self) -> ParameterSpec | None:
        return self.parameter("locationId")

    def response(self, status: int) -> ResponseSpec | None:
        return self.responses.get(str(status)) or self.responses.get(f"{str(status)[0]}XX") or self.responses.get("default")


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.operations: dict[str, OperationSpec] = {}
        for path, item in document["paths"].items():
            for method, raw in item.items():
                if method in {"get", "post", "put", "patch", "delete"}:
                    spec = self._operation(path, method, item, raw)
                    self.operations[spec.operation_id] = spec

    def _operation(self, path: str, method: str, item: dict[str, Any], raw: dict[str, Any]) -> OperationSpec:
        doc = self.document
        base = ("paths", path, method)
        parameters = []
        declared = [(("paths", path, "parameters", str(i)), p) for i, p in enumerate(item.get("parameters", []))]
        declared += [((*base, "parameters", str(i)), p) for i, p in enumerate(raw.get("parameters", []))]
        for where, ref in declared:
            param = _resolve(doc, ref)
            parameters.append(
                ParameterSpec(
                    name=param["name"],
                    location=param["in"],
                    required=bool(param.get("required", False)),
                    schema=inline_refs(doc, param.get("schema", {})),
                    pointer=json_pointer(*where),
                    explode=param.get("explode", param.get("style", "form") == "form"),
                    allow_empty=bool(param.get("allowEmptyValue", False)),
                    example=param.get("example"),
                )
            )
        body_schema = None
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
        responses = {}
        for status, ref in raw.get("responses", {}).items():
            response = _resolve(doc, ref)
            content = response.get("content", {}).get("application/json")
            headers = {name: _resolve(doc, header) for name, header in (response.get("headers") or {}).items()}
            responses[str(status)] = ResponseSpec(
                status=str(status),
                schema=inline_refs(doc, content["schema"]) if content else None,
                headers={name: inline_refs(doc, h.get("schema", {})) for name, h in headers.items()},
                required_headers=frozenset(name for name, h in headers.items() if h.get("required")),
                pointer=json_pointer(*base, "responses", str(status)),
            )
        return OperationSpec(
            operation_id=raw["operationId"],
            method=method.upper(),
            path=path,
            scopes=scopes,
            parameters=tuple(parameters),
            body_schema=body_schema,
            body_required=body_required,
            body_pointer=body_pointer,
            body_example=body_example,
            responses=responses,
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


@functools.lru_cache(maxsize=1)
def load() -> Contract:
    """The shipped contract, indexed (cached: it is read-only)."""
    return Contract(contracts.contract_document())
