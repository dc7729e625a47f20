"""The vendor's own OpenAPI documents (v3 and 2021-07-28), driven by schemathesis against `lcphone serve`.

Whatever valid and invalid requests the vendor's documents generate, the sandbox answers no 5xx and nothing
outside the vendor's schemas, but for the deviations listed in `contracts/deviations.yaml` (each failure is
matched to a listed deviation the way `lcphone contract diff` names differences). Skipped where the vendor's
copies are absent.
"""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import JsonSchemaError, UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mockserver.contract.operations import registry
from mockserver.contract.vendor_diff import Deviation, load_deviations
from mockserver.serve.process import ServeProcess

VENDOR = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "vendor"
pytestmark = pytest.mark.skipif(
    not (VENDOR / "phone-system-v3.json").is_file(), reason=f"the vendor's documents are not at {VENDOR}"
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12


@pytest.fixture(scope="module")
def served() -> Iterator[ServeProcess]:
    with ServeProcess() as process:
        yield process


@pytest.fixture(scope="module")
def vendor_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vendor's documents in the layout of the vendor's repository (its references are relative to it)."""
    folder = tmp_path_factory.mktemp("vendor")
    (folder / "apps" / "v3").mkdir(parents=True)
    (folder / "common").mkdir()
    shutil.copy(VENDOR / "phone-system-v3.json", folder / "apps" / "v3" / "phone-system-v3.json")
    shutil.copy(VENDOR / "phone-system.json", folder / "apps" / "phone-system.json")
    shutil.copy(VENDOR / "common-schemas.json", folder / "common" / "common-schemas.json")
    return folder


def listed(failure, version: str, operation_id: str, status: int, deviations: list[Deviation]) -> bool:
    """Whether a failure is one of the differences the deviations file lists (named as `contract diff` names them)."""
    if isinstance(failure, UndefinedStatusCode):
        at, kind = "responses", "status-missing-in-vendor"
    elif isinstance(failure, JsonSchemaError):
        path = "".join("[]" if isinstance(part, int) else f".{part}" for part in failure.instance_path).lstrip(".")
        at, kind = f"response {status} body {path}".rstrip(), str(failure.schema_path[-1])
    else:
        return False
    return any(
        d.version in ("*", version)
        and d.operation in ("*", operation_id)
        and d.kind in ("*", kind)
        and fnmatch.fnmatchcase(at, d.at)
        for d in deviations
    )


def drive(
    operation, operation_id: str, version: str, location: str, token: str, deviations: list[Deviation]
) -> list[str]:
    """Valid and invalid requests generated from one operation of a vendor document; what no deviation explains."""
    unlisted: list[str] = []

    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
        | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        if case.path_parameters and "locationId" in case.path_parameters:
            case.path_parameters = {**case.path_parameters, "locationId": location}
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text}"
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup: keep what no deviation explains
            kept = [
                f for f in group.exceptions if not listed(f, version, operation_id, response.status_code, deviations)
            ]
            unlisted.extend(
                f"{operation_id} {response.status_code}: {getattr(f, 'title', f)}: "
                f"{str(getattr(f, 'message', f))[:300]}"
                for f in kept
            )

    check()
    return unlisted


@pytest.mark.parametrize(
    ("document", "version"), [("apps/v3/phone-system-v3.json", "v3"), ("apps/phone-system.json", "2021-07-28")]
)
def test_the_vendors_document_finds_nothing_but_listed_deviations(
    served: ServeProcess, vendor_folder: Path, document: str, version: str
) -> None:
    schema = schemathesis.openapi.from_path(vendor_folder / document)
    schema.config.update(base_url=served.base_url)
    location, token = served.value("location id"), served.value("token")
    deviations = load_deviations()
    unlisted: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        found = registry().match(operation.method.upper(), operation.path.replace("{locationId}", location))
        assert found is not None, f"{operation.method} {operation.path} is not served"
        unlisted += drive(operation, found[0].id, version, location, token, deviations)
    assert not unlisted, "\n".join(dict.fromkeys(unlisted))
