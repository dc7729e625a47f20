"""Compares the project's contract with a vendor OpenAPI document of the same version.

What is compared: operations (by method and path), parameters (name, place,
required flag, type, enum, default, bounds), security scopes, request body
fields and response fields (type, nullability, enum, required lists,
recursively), and the documented statuses. Each difference is reported once,
with a stable key, and is either listed in `contracts/deviations.yaml` with its
reason (and a DECISIONS.md entry), or it fails the comparison.

Where the vendor is silent (a response without a schema), there is nothing to
compare: silence is not a difference. Fields a schema forbids (`not: {}`, the
legacy names at v3) are bans, not fields, and are not compared.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from .files import deviations_path, load_yaml
from .model import inline_refs
from .versions import contract_document, registry

METHODS = ("get", "post", "put", "patch", "delete")


class VendorDocumentError(ValueError):
    """A vendor document that cannot be read or understood."""


@dataclass(frozen=True)
class Difference:
    version: str
    operation: str
    at: str  # where: "parameter query numberTypes", "response 200 body data.numbers[].dateAdded", ...
    kind: str  # type | nullable | enum | required | default | minimum | maximum | scopes | missing-in-ours | ...
    ours: Any
    vendor: Any

    @property
    def key(self) -> str:
        return f"{self.version} {self.operation} {self.at}: {self.kind}"

    def describe(self) -> str:
        return f"{self.key} (ours: {_show(self.ours)}; vendor: {_show(self.vendor)})"


def _show(value: Any) -> str:
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=str)
    if isinstance(value, list) and len(value) > 12:
        return f"{len(value)} values: {json.dumps(value[:6], default=str)[:-1]}, ...]"
    return json.dumps(value, default=str) if value is not None else "-"


@dataclass(frozen=True)
class Deviation:
    version: str
    operation: str
    at: str  # a glob pattern
    kind: str
    reason: str
    decision: str

    def matches(self, difference: Difference) -> bool:
        return (
            self.version in ("*", difference.version)
            and self.operation in ("*", difference.operation)
            and self.kind in ("*", difference.kind)
            and fnmatch.fnmatchcase(difference.at, self.at)
        )


def load_deviations(path: Path | None = None) -> list[Deviation]:
    data = load_yaml((path or deviations_path()).read_bytes()) or {}
    return [
        Deviation(
            str(entry["version"]),
            entry["operation"],
            entry["at"],
            entry["kind"],
            entry["reason"].strip(),
            entry["decision"],
        )
        for entry in data.get("deviations", [])
    ]


# -- reading a vendor document ----------------------------------------------------------

Fetch = Callable[[str], bytes]


def _fetch(location: str) -> bytes:
    if location.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(location, timeout=30, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise VendorDocumentError(f"cannot fetch {location}: {error}") from None
        return response.content
    try:
        return Path(location).read_bytes()
    except OSError as error:
        raise VendorDocumentError(f"cannot read {location}: {error.strerror}") from None


def _parse(raw: bytes, location: str) -> dict[str, Any]:
    try:
        document = load_yaml(raw)  # YAML is a superset of JSON
    except Exception as error:
        raise VendorDocumentError(f"{location} is not JSON or YAML ({str(error)[:200]})") from None
    if not isinstance(document, dict) or "paths" not in document:
        raise VendorDocumentError(f"{location} is not an OpenAPI document (no paths)")
    return document


class Resolver:
    """Follows `$ref`s inside a document and into documents next to it (`../common/common-schemas.json#/...`)."""

    def __init__(self, document: dict[str, Any], location: str, fetch: Fetch = _fetch) -> None:
        self.location = location
        self.fetch = fetch
        self._documents = {location: document}

    def _document(self, location: str) -> dict[str, Any] | None:
        if location not in self._documents:
            try:
                self._documents[location] = load_yaml(self.fetch(location))
            except Exception:
                return None
        return self._documents[location]

    def _locate(self, base: str, where: str) -> str:
        """Where a referenced document is: relative to the referring one, or beside it (a copy made flat)."""
        if base.startswith(("http://", "https://")):
            return urljoin(base, where)
        relative = (Path(base).parent / where).resolve()
        beside = Path(base).parent / Path(where).name
        return str(relative if relative.exists() or not beside.exists() else beside)

    def _target(self, base: str, ref: str) -> tuple[str, Any] | None:
        where, _, pointer = ref.partition("#")
        location = self._locate(base, where) if where else base
        document = self._document(location)
        if document is None:
            return None
        node: Any = document
        for part in filter(None, pointer.split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return location, node

    def inline(self, node: Any, base: str | None = None, depth: int = 0) -> Any:
        """`node` with every reference followed (an unresolvable one becomes an empty schema)."""
        base = base or self.location
        if depth > 50:
            return {}
        if isinstance(node, dict):
            if "$ref" in node:
                found = self._target(base, node["$ref"])
                if found is None:
                    return {}
                location, target = found
                siblings = {k: v for k, v in node.items() if k != "$ref"}
                resolved = self.inline(target, location, depth + 1)
                return (
                    {**resolved, **self.inline(siblings, base, depth + 1)} if isinstance(resolved, dict) else resolved
                )
            return {key: self.inline(value, base, depth + 1) for key, value in node.items()}
        if isinstance(node, list):
            return [self.inline(item, base, depth + 1) for item in node]
        return node


def vendor_version(document: dict[str, Any]) -> str | None:
    """Which of our versions a vendor document describes: its info.version, or its Version header's values."""
    info = str(document.get("info", {}).get("version", ""))
    if info in registry():
        return info
    resolver = Resolver(document, "")
    for item in document.get("paths", {}).values():
        for method in METHODS:
            for parameter in resolver.inline((item.get(method) or {}).get("parameters", [])):
                if (
                    isinstance(parameter, dict)
                    and parameter.get("in") == "header"
                    and str(parameter.get("name", "")).lower() == "version"
                ):
                    for value in (parameter.get("schema") or {}).get("enum", []):
                        if str(value) in registry():
                            return str(value)
    return None


# -- normalizing schemas ------------------------------------------------------------------


@dataclass
class Shape:
    """A schema reduced to what is compared."""

    types: frozenset[str] = frozenset()  # without "null"
    nullable: bool = False
    enum: frozenset[Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)  # name -> raw schema
    required: frozenset[str] = frozenset()
    items: Any = None
    values: Any = None  # additionalProperties schema (a map)
    default: Any = None
    minimum: Any = None
    maximum: Any = None


def shape(schema: Any) -> Shape:
    if not isinstance(schema, dict):
        return Shape()
    result = Shape()
    parts = [schema, *[s for s in schema.get("allOf", []) if isinstance(s, dict)]]
    types: set[str] = set()
    for part in parts:
        raw = part.get("type")
        types |= set(raw) if isinstance(raw, list) else ({raw} if raw else set())
        if part.get("nullable") is True:
            types.add("null")
        if "enum" in part:
            result.enum = frozenset(v for v in part["enum"] if v is not None)
            if None in part["enum"]:
                types.add("null")
        for name, value in (part.get("properties") or {}).items():
            if isinstance(value, dict) and value.get("not") == {}:
                continue  # a ban, not a field
            result.properties[name] = value
        result.required = result.required | frozenset(part.get("required", []))
        if "items" in part:
            result.items = part["items"]
        if isinstance(part.get("additionalProperties"), dict):
            result.values = part["additionalProperties"]
        for name in ("default", "minimum", "maximum"):
            if name in part:
                setattr(result, name, part[name])
        if part.get("properties") and not types:
            types.add("object")
    result.nullable = "null" in types
    result.types = frozenset(types - {"null"})
    return result


class Comparer:
    def __init__(self, version: str, ours: dict[str, Any], vendor: dict[str, Any], resolver: Resolver) -> None:
        self.version = version
        self.ours = ours
        self.vendor = vendor
        self.resolver = resolver
        self.differences: list[Difference] = []
        self.silent: list[str] = []  # places the vendor documents without a schema

    def add(self, operation: str, at: str, kind: str, ours: Any, vendor: Any) -> None:
        self.differences.append(Difference(self.version, operation, at, kind, ours, vendor))

    def _ours(self, node: Any) -> Any:
        return inline_refs(self.ours, node)

    def schemas(self, operation: str, at: str, ours: Any, vendor: Any, parameter: bool = False) -> None:
        if vendor is None or ours is None:
            return
        mine, theirs = shape(ours), shape(vendor)
        if mine.types and theirs.types and mine.types != theirs.types:
            self.add(operation, at, "type", set(mine.types), set(theirs.types))
        if mine.nullable != theirs.nullable and (theirs.types or theirs.nullable):
            self.add(operation, at, "nullable", mine.nullable, theirs.nullable)
        if mine.enum != theirs.enum:
            self.add(operation, at, "enum", mine.enum, theirs.enum)
        if parameter:
            for name in ("default", "minimum", "maximum"):
                mine_value, their_value = getattr(mine, name), getattr(theirs, name)
                if mine_value is not None and their_value is not None and mine_value != their_value:
                    self.add(operation, at, name, mine_value, their_value)
        if mine.properties or theirs.properties:
            self._objects(operation, at, mine, theirs)
        if mine.items is not None and theirs.items is not None:
            self.schemas(operation, f"{at}[]", mine.items, theirs.items, parameter)
        if mine.values is not None and theirs.values is not None:
            self.schemas(operation, f"{at}{{}}", mine.values, theirs.values)

    def _objects(self, operation: str, at: str, mine: Shape, theirs: Shape) -> None:
        prefix = f"{at}." if not at.endswith(" body") else f"{at} "
        for name in mine.properties.keys() - theirs.properties.keys():
            self.add(operation, prefix + name, "missing-in-vendor", "listed", None)
        for name in theirs.properties.keys() - mine.properties.keys():
            self.add(operation, prefix + name, "missing-in-ours", None, "listed")
        if mine.required != theirs.required:
            self.add(operation, at, "required", set(mine.required), set(theirs.required))
        for name in sorted(mine.properties.keys() & theirs.properties.keys()):
            self.schemas(operation, prefix + name, mine.properties[name], theirs.properties[name])

    def run(self) -> list[Difference]:
        ours_ops = _operations(self.ours)
        vendor_ops = _operations(self.vendor)
        for key in sorted(vendor_ops.keys() - ours_ops.keys()):
            self.add(f"{key[0].upper()} {key[1]}", "operation", "missing-in-ours", None, "documented")
        for key in sorted(ours_ops.keys() - vendor_ops.keys()):
            self.add(
                ours_ops[key].get("operationId", f"{key[0].upper()} {key[1]}"),
                "operation",
                "missing-in-vendor",
                "documented",
                None,
            )
        for key in sorted(ours_ops.keys() & vendor_ops.keys()):
            self.operation(key, self._ours(ours_ops[key]), self.resolver.inline(vendor_ops[key]))
        return self.differences

    def operation(self, key: tuple[str, str], mine: dict[str, Any], theirs: dict[str, Any]) -> None:
        name = mine.get("operationId", f"{key[0].upper()} {key[1]}")
        self._scopes(name, mine, theirs)
        self._parameters(name, mine, theirs)
        self._body(name, mine, theirs)
        self._responses(name, mine, theirs)

    def _scopes(self, name: str, mine: dict[str, Any], theirs: dict[str, Any]) -> None:
        def scopes(operation: dict[str, Any], document: dict[str, Any]) -> set[str]:
            security = operation.get("security", document.get("security", []))
            return {scope for requirement in security for roles in requirement.values() for scope in roles}

        ours, vendor = scopes(mine, self.ours), scopes(theirs, self.vendor)
        if ours != vendor:
            self.add(name, "security", "scopes", ours, vendor)

    def _parameters(self, name: str, mine: dict[str, Any], theirs: dict[str, Any]) -> None:
        def table(operation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
            found = {}
            for parameter in operation.get("parameters", []):
                where = parameter.get("in", "")
                key = parameter.get("name", "")
                found[(where, key.lower() if where == "header" else key)] = parameter
            return found

        ours, vendor = table(mine), table(theirs)
        for where, key in sorted(vendor.keys() - ours.keys()):
            self.add(name, f"parameter {where} {key}", "missing-in-ours", None, "documented")
        for where, key in sorted(ours.keys() - vendor.keys()):
            self.add(name, f"parameter {where} {key}", "missing-in-vendor", "documented", None)
        for where, key in sorted(ours.keys() & vendor.keys()):
            at = f"parameter {where} {key}"
            required = bool(ours[(where, key)].get("required")), bool(vendor[(where, key)].get("required"))
            if required[0] != required[1]:
                self.add(name, at, "required", required[0], required[1])
            self.schemas(name, at, ours[(where, key)].get("schema"), vendor[(where, key)].get("schema"), parameter=True)

    @staticmethod
    def _json_schema(holder: dict[str, Any]) -> Any:
        content = holder.get("content") or {}
        media = content.get("application/json") or next(iter(content.values()), None)
        return media.get("schema") if isinstance(media, dict) else None

    def _body(self, name: str, mine: dict[str, Any], theirs: dict[str, Any]) -> None:
        ours, vendor = mine.get("requestBody"), theirs.get("requestBody")
        if ours is None and vendor is None:
            return
        if ours is None or vendor is None:
            self.add(
                name,
                "request body",
                "missing-in-ours" if ours is None else "missing-in-vendor",
                "documented" if ours else None,
                "documented" if vendor else None,
            )
            return
        self.schemas(name, "request body", self._json_schema(ours), self._json_schema(vendor))

    def _responses(self, name: str, mine: dict[str, Any], theirs: dict[str, Any]) -> None:
        ours, vendor = mine.get("responses", {}), theirs.get("responses", {})
        missing = sorted(set(map(str, vendor)) - set(map(str, ours)))
        extra = sorted(set(map(str, ours)) - set(map(str, vendor)))
        if missing:
            self.add(name, "responses", "status-missing-in-ours", None, missing)
        if extra:
            self.add(name, "responses", "status-missing-in-vendor", extra, None)
        for status in sorted(set(map(str, ours)) & set(map(str, vendor))):
            vendor_schema = self._json_schema(vendor.get(status) or vendor.get(int(status)) or {})
            if vendor_schema is None:
                self.silent.append(f"{name} response {status}")
                continue
            self.schemas(name, f"response {status} body", self._json_schema(ours[status]), vendor_schema)


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): item[method]
        for path, item in document.get("paths", {}).items()
        for method in METHODS
        if isinstance(item, dict) and method in item
    }


@dataclass
class DiffResult:
    version: str
    source: str
    differences: list[Difference]
    deviations: list[Deviation]
    silent: list[str]

    def listed(self) -> list[tuple[Difference, Deviation]]:
        return [(d, dev) for d in self.differences for dev in self.deviations if dev.matches(d)][:]

    def unlisted(self) -> list[Difference]:
        return [d for d in self.differences if not any(dev.matches(d) for dev in self.deviations)]

    def stale(self) -> list[Deviation]:
        """Deviations of this version that no difference matched: the vendor or our contract changed."""
        return [
            dev
            for dev in self.deviations
            if dev.version in ("*", self.version) and not any(dev.matches(d) for d in self.differences)
        ]


def diff(
    source: str, version: str | None = None, deviations: list[Deviation] | None = None, fetch: Fetch = _fetch
) -> DiffResult:
    """Compares our contract with the vendor document at `source` (a file or a URL)."""
    vendor = _parse(fetch(source), source)
    location = source if source.startswith(("http://", "https://")) else str(Path(source).resolve())
    version = version or vendor_version(vendor)
    if version is None or version not in registry():
        raise VendorDocumentError(
            f"{source}: cannot tell which version it describes; "
            f"name it with --version ({' or '.join(registry().names)})"
        )
    comparer = Comparer(version, contract_document(version), vendor, Resolver(vendor, location, fetch))
    differences = comparer.run()
    unique = list({d.key: d for d in differences}.values())
    return DiffResult(version, source, unique, load_deviations() if deviations is None else deviations, comparer.silent)
