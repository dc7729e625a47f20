"""The requests verify sends, derived from each version's contract: valid ones, edge cases, ones the contract
refuses, requests with no or a bad token, and the wire forms of list parameters.

Nothing here is written per endpoint: parameters, bounds, enums and examples are read from the contract, so a
contract change changes the probes. No probe can buy a number: purchase probes that are not a deliberate
purchase carry a body the service must refuse, and a fictional number (555-01xx) that no one can sell.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from ..contract.model import OperationSpec, ParameterSpec
from ..contract.versions import load_contract
from ..domain.numbering import INVENTORY_COUNTRIES

ACCEPT = "accept"  # the contract says: a valid request, answered 2xx (or a documented refusal)
REJECT = "reject"  # the contract says: malformed, answered 400
UNAUTHORIZED = "unauthorized"  # no token, a bad one: 401
FORBIDDEN = "forbidden"  # another location's: 403
UNKNOWN_TOKEN = "lcphone-verify-unknown-token-0000"

# Rules of the contract a probe exercises, for the coverage of the report.
EXAMPLE, EDGES, REFUSALS, GENERATED = "example request", "edge values", "refusals of malformed requests", "generated"
AUTH_NONE, AUTH_MALFORMED, AUTH_UNKNOWN, AUTH_LOCATION, AUTH_SCOPE = (
    "auth: no token",
    "auth: malformed bearer",
    "auth: unknown token",
    "auth: another location's",
    "auth: a token without the scope",
)
WIRE_FORMS, PURCHASE = "wire forms of list parameters", "a successful purchase (201 answer)"
READ_RULES = (EXAMPLE, EDGES, REFUSALS, GENERATED)
AUTH_RULES = (AUTH_NONE, AUTH_MALFORMED, AUTH_UNKNOWN)

# Countries a search is tried with beyond the parameter's example: those whose numbers the sandbox sells (the
# ones the service is known to stock), and one that usually has none (an empty list is still a 200).
SEARCH_COUNTRIES = (*INVENTORY_COUNTRIES, "FR")
SAFE_PHONE_NUMBER = "+14155550143"  # fictional (555-01xx): no one can sell it


@dataclass(frozen=True)
class Probe:
    operation: OperationSpec
    label: str
    path_params: dict[str, str]
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: Any = None
    expect: str = ACCEPT
    rule: str = EXAMPLE  # which rule of the contract it exercises (coverage)
    refusal: str = ""  # for a REJECT probe: the schema rule it breaks (required, maximum, enum...)
    authorization: str | None = None  # None: the run's token; "": no Authorization header; else sent as is
    form: str = ""  # for a wire-form probe: which form (comma, repeated, brackets)
    names: str = ""  # what the refusal must name: the parameter or field that is wrong, or the scope missing

    @property
    def operation_id(self) -> str:
        return self.operation.operation_id

    @property
    def version(self) -> str:
        return self.operation.version

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
    location_id: str
    # Operations a request may leave the Version header out of, being then another version's request (D1)
    version_optional: frozenset[str] = frozenset()

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

    def base_body(self, operation: OperationSpec) -> Any:
        """The contract's example body, with a number no one can sell."""
        if not isinstance(operation.body_example, dict):
            return operation.body_example
        return {**operation.body_example, "phoneNumber": SAFE_PHONE_NUMBER}

    def probe(
        self,
        operation: OperationSpec,
        label: str,
        values: dict[str, tuple[ParameterSpec, Any]],
        expect: str = ACCEPT,
        rule: str = EXAMPLE,
        body: Any = None,
        refusal: str = "",
    ) -> Probe:
        path_params, query, headers = {}, [], {}
        for parameter, value in values.values():
            if parameter.location == "query" and isinstance(value, list) and parameter.explode:
                query += [(parameter.name, _wire(item, parameter)) for item in value]
                continue
            wire = _wire(value, parameter)
            if parameter.location == "path":
                path_params[parameter.name] = wire
            elif parameter.location == "query":
                query.append((parameter.name, wire))
            else:
                headers[parameter.name] = wire
        return Probe(operation, label, path_params, tuple(query), headers, body, expect, rule, refusal)

    # -- valid requests ------------------------------------------------------------
    def valid(self, operation: OperationSpec) -> Iterator[Probe]:
        base = self.base_values(operation)
        yield self.probe(operation, "the contract's example request", base)
        required_only = {k: v for k, v in base.items() if v[0].required}
        if required_only != base:
            yield self.probe(operation, "required parameters only", required_only, rule=EDGES)
        for name, (parameter, _) in base.items():
            schema = parameter.schema if isinstance(parameter.schema, dict) else {}
            for value, label in self._edge_values(parameter, schema):
                yield self.probe(operation, f"{name}={label}", {**base, name: (parameter, value)}, rule=EDGES)

    def _edge_values(self, parameter: ParameterSpec, schema: dict[str, Any]) -> Iterator[tuple[Any, str]]:
        if parameter.name == "locationId" or parameter.location == "header":
            return
        kind = schema.get("type")
        if kind == "boolean":
            yield True, "true"
            yield False, "false"
        elif kind in ("integer", "number"):
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
        body = self.base_body(operation)
        for name, (parameter, _) in base.items():
            if parameter.name == "locationId":
                continue
            where = "header" if parameter.location == "header" else "parameter"
            if parameter.name == "Version" and operation.operation_id in self.version_optional:
                pass  # left out, it is a valid request of the newest version (D1), not a malformed one
            elif parameter.required:
                without = {k: v for k, v in base.items() if k != name}
                probe = self.probe(
                    operation, f"required {where} {name} left out", without, REJECT, REFUSALS, body, "required"
                )
                yield replace(probe, names=name)
            schema = parameter.schema if isinstance(parameter.schema, dict) else {}
            for value, refusal in self._invalid_values(schema):
                probe = self.probe(
                    operation,
                    f"{name}={value!s} ({refusal})",
                    {**base, name: (parameter, value)},
                    REJECT,
                    REFUSALS,
                    body,
                    refusal,
                )
                yield replace(probe, names=name)
        if isinstance(body, dict) and operation.spends_money:
            # A well-formed purchase of a number no one sells: refused, naming it (D10).
            probe = self.probe(operation, "a number no one sells (555-01xx)", base, REJECT, REFUSALS, body, "inventory")
            yield replace(probe, names="phoneNumber")
        if isinstance(body, dict) and isinstance(operation.body_schema, dict):
            for name in operation.body_schema.get("required", []):
                without = {k: v for k, v in body.items() if k != name}
                probe = self.probe(
                    operation, f"required body field {name} left out", base, REJECT, REFUSALS, without, "required"
                )
                yield replace(probe, names=name)

    @staticmethod
    def _invalid_values(schema: dict[str, Any]) -> Iterator[tuple[Any, str]]:
        kind = schema.get("type")
        if "maximum" in schema:
            yield schema["maximum"] + 1, "maximum"
        if "minimum" in schema:
            yield schema["minimum"] - 1, "minimum"
        if kind in ("integer", "number"):
            yield "ten", "type"
        if schema.get("multipleOf") == 1:
            yield 1.5, "multipleOf"
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

    # -- who may call ---------------------------------------------------------------------
    def auth(self, operation: OperationSpec, other_location: str | None = None) -> Iterator[Probe]:
        """No token, a malformed one, an unknown one: 401; another location's id with the run's token: 403.

        Without a valid token, a purchase carries an empty body: a service that checks the token first (as the
        contract says, D4) refuses it with 401, and one that does not cannot buy anything with it.
        """
        base = self.base_values(operation)
        body: dict[str, Any] | None = {} if operation.body_schema is not None else None
        example = self.probe(operation, "", base, body=body)
        yield replace(example, label="no Authorization header", expect=UNAUTHORIZED, rule=AUTH_NONE, authorization="")
        yield replace(
            example, label="a malformed bearer", expect=UNAUTHORIZED, rule=AUTH_MALFORMED, authorization="Bearer"
        )
        yield replace(
            example,
            label="a token the service does not know",
            expect=UNAUTHORIZED,
            rule=AUTH_UNKNOWN,
            authorization=f"Bearer {UNKNOWN_TOKEN}",
        )
        if other_location:
            # A well-formed request (the location is checked after the parameters, D4), for a number no one can sell.
            yield self.probe(
                operation,
                f"the run's token on another location ({other_location})",
                {**base, "locationId": (base["locationId"][0], other_location)},
                FORBIDDEN,
                AUTH_LOCATION,
                self.base_body(operation),
            )

    def scopes(self, operation: OperationSpec, token: str, scopes: frozenset[str]) -> Iterator[Probe]:
        """The example request with a token of the location that holds only `scopes`: refused with 401 when the
        operation needs another scope (for a purchase, with an empty body, so that nothing can be bought)."""
        if set(operation.scopes) <= scopes:
            return
        body: dict[str, Any] | None = {} if operation.body_schema is not None else None
        example = self.probe(
            operation,
            f"a token without scope {', '.join(operation.scopes)}",
            self.base_values(operation),
            UNAUTHORIZED,
            AUTH_SCOPE,
            body,
        )
        yield replace(example, authorization=f"Bearer {token}", names=", ".join(operation.scopes))

    # -- wire forms ----------------------------------------------------------------------
    def wire_forms(self, operation: OperationSpec) -> Iterator[Probe]:
        """Each form a list parameter is documented to take (x-lcphone-list), with two of its values."""
        base = self.base_values(operation)
        for parameter in operation.parameters:
            if not parameter.list_forms:
                continue
            schema = parameter.schema if isinstance(parameter.schema, dict) else {}
            values = schema.get("items", {}).get("enum") or ["local", "tollFree"]
            items = [str(v) for v in values[:2]]
            rest = [(p, v) for name, (p, v) in base.items() if name != parameter.name]
            plain = self.probe(operation, "", {p.name: (p, v) for p, v in rest})
            forms = {
                "comma": [(parameter.name, ",".join(items))],
                "repeated": [(parameter.name, item) for item in items],
                "brackets": [(parameter.name + "[]", item) for item in items],
            }
            for form in parameter.list_forms:
                query = (*plain.query, *forms[form])
                yield replace(
                    plain, label=f"{parameter.name} as {form}: {forms[form]}", query=query, rule=WIRE_FORMS, form=form
                )


def generated(operation: OperationSpec, builder: ProbeBuilder, count: int) -> list[Probe]:
    """`count` valid requests drawn by schemathesis from the contract (deterministic: derandomized)."""
    if count <= 0:
        return []
    import schemathesis  # imported by the runs that generate, only: it takes a second
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_dict(load_contract(operation.version))
    strategy = schema[operation.path][operation.method].as_strategy(generation_mode=GenerationMode.POSITIVE)
    by_name = {p.name: p for p in operation.parameters}
    probes: list[Probe] = []

    @given(case=strategy)
    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def collect(case) -> None:
        values = {}
        for container in (case.path_parameters, case.query, case.headers):
            for name, value in (container or {}).items():
                if name in by_name:
                    # generated requests act on the target's location (another one would only earn a 403)
                    values[name] = (by_name[name], builder.location_id if name == "locationId" else value)
        probes.append(builder.probe(operation, f"generated #{len(probes) + 1}", values, rule=GENERATED))

    collect()
    return probes[:count]
