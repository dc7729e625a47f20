"""The contracts, indexed for serving: one per API version, with operations, parameters, bodies and responses.

Built once from the bundled documents (`versions.py` names them); every rule the
sandbox applies to a request (which parameters, which types, which scopes, which
Version) is read from here, never re-typed in code.

Each response schema exists in two profiles (DECISIONS.md, D25): `promised`, the
vendor's required lists, which `lcphone verify` holds a real API to; and
`sandbox`, where every object also requires the fields its `x-lcphone-sends`
lists, which lcphone's own tests hold the sandbox to.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

from .versions import registry

Schema = dict[str, Any] | bool
Profile = Literal["promised", "sandbox"]
SENDS = "x-lcphone-sends"
LIST_FORMS = "x-lcphone-list"
SPENDS_MONEY = "x-lcphone-spends-money"


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


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: validators are cached per answer spec
class ResponseSpec:
    status: str
    schema: Schema | None  # the promised profile
    sandbox_schema: Schema | None  # the sandbox profile
    headers: dict[str, Schema]
    required_headers: frozenset[str]
    pointer: str
    links: tuple[str, ...] = ()  # the operations its links lead to (the next step after this answer)

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
    spends_money: bool = False  # a purchase: never sent to a real API unless the run allows it

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

    @functools.cached_property
    def success(self) -> ResponseSpec | None:
        """The answer it gives when it succeeds (its first 2xx)."""
        return next((spec for status, spec in self.responses.items() if status.startswith("2")), None)

    def answers_in(self, envelope: tuple[str, ...]) -> bool:
        """Whether its success answer is an object that requires every field of `envelope` (a version's)."""
        schema = self.success.schema if self.success else None
        required = set(schema.get("required", ())) if isinstance(schema, dict) else set()
        return bool(envelope) and set(envelope) <= required

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
        body_schema, body_required, body_pointer, body_example = self._body(raw, base)
        scopes, bearer = self._security(raw)
        return OperationSpec(
            operation_id=raw["operationId"],
            version=self.version,
            method=method.upper(),
            path=path,
            scopes=scopes,
            parameters=tuple(self._parameter(_resolve(doc, ref), where) for where, ref in declared),
            body_schema=body_schema,
            body_required=body_required,
            body_pointer=body_pointer,
            body_example=body_example,
            responses={str(status): self._response(str(status), ref, base) for status, ref in raw["responses"].items()},
            bearer=bearer,
            spends_money=bool(raw.get(SPENDS_MONEY, False)),
        )

    def _body(self, raw: dict[str, Any], base: tuple[str, ...]) -> tuple[Schema | None, bool, str | None, Any]:
        """The request body's schema, whether it is required, where it is declared, and its example."""
        if "requestBody" not in raw:
            return None, False, None, None
        body = _resolve(self.document, raw["requestBody"])
        media = body["content"]["application/json"]
        schema = inline_refs(self.document, media["schema"])
        return schema, bool(body.get("required", False)), json_pointer(*base, "requestBody"), media.get("example")

    def _security(self, raw: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
        """The scopes the operation needs (the roles of its security requirements), and whether it takes a bearer."""
        doc = self.document
        security = raw.get("security", doc.get("security", []))
        scopes = tuple(scope for requirement in security for roles in requirement.values() for scope in roles)
        schemes = doc.get("components", {}).get("securitySchemes", {})
        bearer = any(
            schemes.get(name, {}).get("scheme") == "bearer" for requirement in security for name in requirement
        )
        return scopes, bearer

    def _response(self, status: str, ref: Any, base: tuple[str, ...]) -> ResponseSpec:
        doc = self.document
        response = _resolve(doc, ref)
        content = response.get("content", {}).get("application/json")
        headers = {name: _resolve(doc, header) for name, header in (response.get("headers") or {}).items()}
        schema = inline_refs(doc, content["schema"]) if content else None
        return ResponseSpec(
            status=status,
            schema=schema,
            sandbox_schema=with_sent_fields(schema) if schema is not None else None,
            headers={name: inline_refs(doc, h.get("schema", {})) for name, h in headers.items()},
            required_headers=frozenset(name for name, h in headers.items() if h.get("required")),
            pointer=json_pointer(*base, "responses", status),
            links=tuple(
                link["operationId"] for link in (response.get("links") or {}).values() if "operationId" in link
            ),
        )

    def schema(self, name: str) -> Schema:
        """A component schema with its references inlined."""
        return inline_refs(self.document, self.document["components"]["schemas"][name])


@functools.cache
def load(version: str | None = None) -> Contract:
    """One version's shipped contract (the newest by default), indexed (cached: it is read-only)."""
    entry = registry()[version] if version else registry().newest
    return Contract(entry.document(), entry.name)
