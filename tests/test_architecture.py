"""The shape of the code: who may import whom, and registries that every part takes its operations and versions
from. A part that is missing for an operation or a version (a handler, a view, verify's probes, a drift mode
that covers it, a test of a drift mode) fails here, not in production.

The throwaway tests add an operation and a version the way docs/architecture.md says to, and see the
registry-driven parts (the conformance check, the gateway, verify's plan, the coverage of drift modes) pick
them up without another change.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import LOCATION, TOKEN, auth
from mockserver import Sandbox
from mockserver.contract.conformance import Conformance
from mockserver.contract.model import Contract
from mockserver.contract.operations import OperationRegistry
from mockserver.contract.operations import registry as operations
from mockserver.contract.versions import ApiVersion, VersionRegistry
from mockserver.contract.versions import registry as versions
from mockserver.control import drift
from mockserver.http.handlers import HANDLERS
from mockserver.http.transport import SyncASGITransport
from mockserver.verify.runner import Verifier, VerifyOptions
from mockserver.views import view_for
from mockserver.views.v3 import V3View

PACKAGE = Path(__file__).resolve().parents[1] / "mockserver"

# Each part of the package, and the parts it may import (docs/architecture.md draws the same).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "contract": {"errors"},
    "domain": {"errors", "contract"},
    "store": {"errors", "domain"},
    "views": {"errors", "contract", "domain"},
    "control": {"errors", "contract", "domain", "views"},
    "http": {"errors", "contract", "domain", "views", "control"},
    "sandbox": {"control", "http"},
    "serve": {"errors", "contract", "domain", "store", "control", "http", "sandbox"},
    "verify": {"errors", "contract", "domain", "control", "views", "http", "sandbox"},
    "testing": {"errors", "contract", "domain", "control", "http", "serve", "sandbox", "verify"},
    "proxy": {"errors", "contract", "domain", "control", "http", "serve", "sandbox", "verify"},
    "suites": {"errors", "contract", "domain", "testing"},
    "cli": {"contract", "serve", "verify", "proxy"},
}
# Modules that may import the package's own modules inside a function: the command-line entry points and the
# pytest plugin, which load what a command needs only when it runs (start-up time).
LAZY_IMPORTS_ALLOWED = {
    "cli", "testing/plugin", "serve/command", "verify/command", "contract/command", "proxy/command",
}  # fmt: skip


def _modules() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def _part(module: Path) -> str:
    relative = module.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported_parts(module: Path) -> Iterator[tuple[str, int, bool]]:
    """(the part imported, line, whether inside a function) for each import of the package's own modules."""
    tree = ast.parse(module.read_text())
    depth = len(module.relative_to(PACKAGE).parts) - 1  # how deep the module sits below the package
    functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = list(module.relative_to(PACKAGE).parts[:depth])[: max(0, depth - node.level + 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [".".join(target + [alias.name]) if not node.module else ".".join(target)
                         for alias in node.names]  # fmt: skip
            elif node.module and node.module.startswith("mockserver."):
                names = [node.module.removeprefix("mockserver.")]
        elif isinstance(node, ast.Import):
            names = [a.name.removeprefix("mockserver.") for a in node.names if a.name.startswith("mockserver.")]
        for name in names:
            first = name.split(".")[0]
            if first and not ((PACKAGE / first).is_dir() or (PACKAGE / f"{first}.py").exists()):
                first = "__init__"  # a name the package's __init__ exports (its version)
            if first:
                yield first, node.lineno, id(node) in inside


def test_each_part_imports_only_the_parts_below_it() -> None:
    broken = []
    for module in _modules():
        part = _part(module)
        if part == "__init__":
            continue  # the package's lazy exports
        for imported, line, _ in _imported_parts(module):
            if imported != part and imported not in ALLOWED[part] and imported != "__init__":
                broken.append(f"{module.relative_to(PACKAGE)}:{line}: {part} imports {imported}")
    assert not broken, "\n".join(broken)


def test_no_import_of_another_part_hides_inside_a_function() -> None:
    # (Within a part, a late import is for an optional dependency: store/ loads psycopg for PostgreSQL only.)
    hidden = []
    for module in _modules():
        name, part = str(module.relative_to(PACKAGE).with_suffix("")), _part(module)
        if name in LAZY_IMPORTS_ALLOWED:
            continue
        hidden += [
            f"{name}:{line} imports {imported}"
            for imported, line, late in _imported_parts(module)
            if late and imported != part
        ]
    assert not hidden, "\n".join(hidden)


def test_the_package_top_level_holds_at_most_a_dozen_modules() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


def test_every_part_is_in_the_layering() -> None:
    parts = {_part(module) for module in _modules()} - {"__init__"}
    assert parts == set(ALLOWED), parts ^ set(ALLOWED)


def test_no_function_is_longer_than_sixty_lines() -> None:
    long = []
    for module in _modules():
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{module.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not long, long


# -- the registries: every operation and version has every piece ----------------------------------------------
def registry_gaps(operation_registry: OperationRegistry) -> list[str]:
    """What a registry's operations and versions lack: a handler, a view that renders them, drift that covers
    them. Empty for a complete registry."""
    gaps = [f"no handler for {op.id}" for op in operation_registry if op.id not in HANDLERS]
    gaps += [f"a handler of no operation: {name}" for name in HANDLERS if name not in operation_registry]
    for version in operation_registry.versions:
        view = view_for(version)
        gaps += [
            f"the {version.name} view renders no {spec.operation_id}"
            for spec in operation_registry.at(version.name)
            if spec.operation_id not in view.renderers
        ]
    covered = drift.coverage(operation_registry, operation_registry.versions)
    gaps += [f"no drift mode covers {op} at {version}" for (op, version), modes in covered.items() if not modes]
    return gaps


def test_the_shipped_registries_are_complete() -> None:
    assert registry_gaps(operations()) == []
    assert len(operations()) == 4 and versions().names == ("v3", "2021-07-28")


def test_every_drift_mode_has_a_test_that_shows_verify_catching_it() -> None:
    from test_verify import DRIFTS, HARMLESS  # the parametrized tests themselves

    tested = {spec.split("=")[0] for spec, *_ in DRIFTS} | set(HARMLESS)
    assert tested == set(drift.DRIFT_MODES), set(drift.DRIFT_MODES) ^ tested
    assert set(HARMLESS) == {name for name, mode in drift.DRIFT_MODES.items() if mode.benign}


def test_verify_plans_probes_for_every_operation_of_every_version() -> None:
    verifier = Verifier(VerifyOptions("http://target", TOKEN, LOCATION, generated_per_operation=0))
    for version in versions():
        planned = {probe.operation_id for probe in verifier.plan(version.name)}
        assert planned == {op.id for op in operations() if version.name in op.versions}


# -- a throwaway operation ------------------------------------------------------------------------------------
COUNT_PATH = "/phone-system/numbers/location/{locationId}/count"


def _with_count_operation(document: dict) -> dict:
    """A version's contract with one more operation: how many numbers a location holds."""
    document = copy.deepcopy(document)
    listed = document["paths"]["/phone-system/numbers/location/{locationId}"]["get"]
    document["paths"][COUNT_PATH] = {
        "get": {
            "operationId": "countActiveNumbers",
            "security": listed["security"],
            "parameters": [p for p in listed["parameters"] if "$ref" in p or p["name"] == "locationId"],
            "responses": {
                "200": {
                    "description": "The count.",
                    "headers": listed["responses"]["200"]["headers"],
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["count"],
                                "properties": {"count": {"type": "integer"}},
                            }
                        }
                    },
                },
                **{status: answer for status, answer in listed["responses"].items() if status != "200"},
            },
        }
    }
    return document


@pytest.fixture
def count_operation(monkeypatch: pytest.MonkeyPatch) -> OperationRegistry:
    """The shipped operations plus countActiveNumbers: its contract, its handler, and its views' renderers."""
    contracts = {v.name: Contract(_with_count_operation(v.document()), v.name) for v in versions()}
    registry = OperationRegistry(contracts, versions())
    assert "countActiveNumbers" in registry and "countActiveNumbers" not in operations()
    return registry


def test_a_new_operation_is_validated_planned_and_covered_by_drift(count_operation: OperationRegistry) -> None:
    verdict = Conformance(count_operation).verdict(
        "GET", "/phone-system/numbers/location/loc1/count", "", [(b"authorization", b"Bearer t")]
    )
    assert verdict.operation is not None and verdict.operation.id == "countActiveNumbers"
    assert [str(v) for v in verdict.violations] == [f"header Version is required: send {_both_versions()}"]
    verifier = Verifier(
        VerifyOptions("http://target", TOKEN, LOCATION, generated_per_operation=0), operations=count_operation
    )
    planned = [probe for probe in verifier.plan("v3") if probe.operation_id == "countActiveNumbers"]
    assert {probe.rule for probe in planned} >= {"auth: no token", "example request", "refusals of malformed requests"}
    modes = drift.coverage(count_operation, versions())[("countActiveNumbers", "v3")]
    assert {"no-auth", "wrong-types", "no-rate-limit-headers"} <= set(modes)
    # Until it has a handler and its views render it, the registry check names what is missing.
    assert registry_gaps(count_operation) == [
        "no handler for countActiveNumbers",
        "the v3 view renders no countActiveNumbers",
        "the 2021-07-28 view renders no countActiveNumbers",
    ]


def _both_versions() -> str:
    return " or ".join(f"Version: {name}" for name in versions().names)


def test_a_new_operation_with_a_handler_and_views_is_served(
    count_operation: OperationRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(HANDLERS, "countActiveNumbers", lambda system, location, request: location)
    for view in (view_for(version) for version in versions()):
        renderers = {**type(view).renderers, "countActiveNumbers": lambda view, location: {"count": 7}}
        monkeypatch.setattr(type(view), "renderers", renderers)
    assert registry_gaps(count_operation) == []
    sandbox = Sandbox(operations=count_operation)
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        answer = client.get(f"/phone-system/numbers/location/{LOCATION}/count", headers=auth())
        refused = client.get(f"/phone-system/numbers/location/{LOCATION}/count", headers=auth(version=None))
    assert answer.status_code == 200 and answer.json() == {"count": 7}
    assert "x-ratelimit-remaining" in answer.headers
    assert refused.status_code == 400 and "Version header is required" in refused.json()["message"]
    assert [e.operation_id for e in sandbox.journal.entries()] == ["countActiveNumbers"] * 2


# -- a throwaway version --------------------------------------------------------------------------------------
def test_a_new_version_is_negotiated_rendered_planned_and_covered_by_drift() -> None:
    newest = versions().newest
    entry = ApiVersion("2099-01-01", newest.contract, newest.view, newest.envelope, newest.envelope_answer, {})
    registry = VersionRegistry([entry, *versions()])
    document = copy.deepcopy(newest.document())  # the newest contract, as the new version's
    document["components"]["parameters"]["VersionHeader"]["schema"]["enum"] = ["2099-01-01"]
    contracts = {"2099-01-01": Contract(document, "2099-01-01")}
    contracts.update({v.name: Contract(v.document(), v.name) for v in versions()})
    operation_registry = OperationRegistry(contracts, registry)
    assert registry_gaps(operation_registry) == []
    verdict = Conformance(operation_registry).verdict(
        "GET",
        f"/phone-system/numbers/location/{LOCATION}",
        "",
        [(b"authorization", b"Bearer t"), (b"version", b"2099-01-01")],
    )
    assert verdict.version == "2099-01-01" and verdict.conforms
    assert view_for(entry).render is not None and view_for(entry).version == "2099-01-01"
    verifier = Verifier(
        VerifyOptions("http://target", TOKEN, LOCATION, generated_per_operation=0),
        operations=operation_registry,
        versions=registry,
    )
    assert {probe.version for probe in verifier.plan("2099-01-01")} == {"2099-01-01"}
    covered = drift.coverage(operation_registry, registry)
    assert all(covered[(op.id, "2099-01-01")] for op in operation_registry)
    sandbox = Sandbox(operations=operation_registry)
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        listed = client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth(version="2099-01-01"))
    assert listed.status_code == 200 and listed.json()["status"] == "success"
    assert isinstance(view_for(entry), V3View)
