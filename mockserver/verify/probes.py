"""The requests verify sends, derived from the contract: valid ones, edge cases, and ones the contract refuses.

Nothing here is written per endpoint: parameters, bounds, enums and examples are
read from the contract, so a contract change changes the probes.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..contract import Contract, OperationSpec, ParameterSpec

ACCEPT = "accept"  # the contract says: a valid request, answered 2xx (or a documented refusal)
REJECT = "reject"  # the contract says: malformed, answered 4xx

# Countries a search is tried with beyond the parameter's example: ones that have numbers in most
# inventories, and one that usually has none (an empty list is still a 200).
SEARCH_COUNTRIES = ("US", "CA", "GB", "AU", "FR")


@dataclass(frozen=True)
class Probe:
    operation: OperationSpec
    label: str
    path_params: dict[str, str]
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: Any = None
    expect: str = ACCEPT
    rule: str = ""  # for a REJECT probe: the rule it breaks (required, maximum, enum...)
    omit_auth: bool = False

    @property
    def operation_id(self) -> str:
        return self.operation.operation_id

    def path(self) -> str:
        path = self.operation.path
        for name, value in self.path_params.items():
            path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
        return path

    def url(self, base_url: str) -> str:
        query = urllib.parse.urlencode(self.query)
        return base_url.rstrip("/") + self.path() + (f"?{query}" if query else "")


def _wire(value: Any, parameter: ParameterSpec) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_wire(v, parameter) for v in value)
    return str(value)


@dataclass
class ProbeBuilder:
    contract: Contract
    location_id: str
    extra: dict[str, Any] = field(default_factory=dict)

    def base_values(self, operation: OperationSpec) -> dict[str, tuple[ParameterSpec, Any]]:
        """Every parameter at its contract example (the location at the target's)."""
        values = {}
        for parameter in operation.parameters:
            value = self.location_id if parameter.name == "locationId" else parameter.example
            if value is None and isinstance(parameter.schema, dict):
                value = parameter.schema.get("default")
            if value is not None:
                values[parameter.name] = (parameter, value)
        return values

    def probe(self, operation: OperationSpec, label: str, values: dict[str, tuple[ParameterSpec, Any]],
              expect: str = ACCEPT, rule: str = "", body: Any = None) -> Probe:
        path_params, query, headers = {}, [], {}
        for parameter, value in values.values():
            wire = _wire(value, parameter)
            if parameter.location == "path":
                path_params[parameter.name] = wire
            elif parameter.location == "query":
                query.append((parameter.name, wire))
            else:
                headers[parameter.name] = wire
        return Probe(operation, label, path_params, tuple(query), headers, body, expect, rule)

    # -- valid requests ------------------------------------------------------------
    def valid(self, operation: OperationSpec) -> Iterator[Probe]:
        base = self.base_values(operation)
        yield self.probe(operation, "the contract's example request", base)
        required_only = {k: v for k, v in base.items() if v[0].required}
        if required_only != base:
            yield self.probe(operation, "required parameters only", required_only)
        for name, (parameter, _) in base.items():
            schema = parameter.schema if isinstance(parameter.schema, dict) else {}
            for value, label in self._edge_values(parameter, schema):
                yield self.probe(operation, f"{name}={label}", {**base, name: (parameter, value)})

    def _edge_values(self, parameter: ParameterSpec, schema: dict[str, Any]) -> Iterator[tuple[Any, str]]:
        if parameter.name == "locationId":
            return
        kind = schema.get("type")
        if kind == "boolean":
            yield True, "true"
            yield False, "false"
        elif kind == "integer":
            for bound in ("minimum", "maximum"):
                if bound in schema:
                    yield schema[bound], str(schema[bound])
        elif kind == "array":
            for item in schema.get("items", {}).get("enum", []):
                yield [item], item
            if schema.get("items", {}).get("enum"):
                yield list(schema["items"]["enum"]), "all"
        elif kind == "string" or kind is None:
            if parameter.allow_empty:
                yield "", "(empty)"
            if parameter.name == "countryCode":
                for country in SEARCH_COUNTRIES:
                    yield country, country

    # -- requests the contract refuses -----------------------------------------------
    def invalid(self, operation: OperationSpec) -> Iterator[Probe]:
        base = self.base_values(operation)
        for name, (parameter, _) in base.items():
            if parameter.name == "locationId":
                continue
            where = "header" if parameter.location == "header" else "parameter"
            if parameter.required:
                without = {k: v for k, v in base.items() if k != name}
                yield self.probe(operation, f"required {where} {name} left out", without, REJECT, "required")
            schema = parameter.schema if isinstance(parameter.schema, dict) else {}
            for value, rule in self._invalid_values(schema):
                yield self.probe(operation, f"{name}={value!s} ({rule})", {**base, name: (parameter, value)}, REJECT, rule)

    @staticmethod
    def _invalid_values(schema: dict[str, Any]) -> Iterator[tuple[Any, str]]:
        kind = schema.get("type")
        if "maximum" in schema:
            yield schema["maximum"] + 1, "maximum"
        if "minimum" in schema:
            yield schema["minimum"] - 1, "minimum"
        if kind == "integer":
            yield "ten", "type"
        if kind == "boolean":
            yield "maybe", "type"
        if "enum" in schema:
            yield "not-a-" + str(schema["enum"][0]), "enum"
        if kind == "array" and schema.get("items", {}).get("enum"):
            yield ["not-a-type"], "enum"
        if "pattern" in schema and kind == "string":
            yield "x!", "pattern"
        if "maxLength" in schema:
            yield "9" * (schema["maxLength"] + 1), "maxLength"


def generated(operation: OperationSpec, builder: ProbeBuilder, count: int) -> list[Probe]:
    """`count` valid requests drawn by schemathesis from the contract (deterministic: derandomized)."""
    if count <= 0:
        return []
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode

    from ..contract_files import load_contract

    schema = schemathesis.openapi.from_dict(load_contract(operation.version))
    strategy = schema[operation.path][operation.method].as_strategy(generation_mode=GenerationMode.POSITIVE)
    by_name = {p.name: p for p in operation.parameters}
    probes: list[Probe] = []

    @given(case=strategy)
    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    def collect(case) -> None:
        values = {}
        for container in (case.path_parameters, case.query, case.headers):
            for name, value in (container or {}).items():
                if name in by_name:
                    # generated requests act on the target's location (another one would only earn a 403)
                    values[name] = (by_name[name], builder.location_id if name == "locationId" else value)
        probes.append(builder.probe(operation, f"generated #{len(probes) + 1}", values, body=case.body if operation.body_schema else None))

    collect()
    return probes[:count]

