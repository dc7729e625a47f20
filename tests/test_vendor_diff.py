"""`lcphone contract diff`: the project's contract against vendor OpenAPI documents.

On the vendor's published copies (in the shared reference folder, skipped where it is absent) every difference
must be a listed deviation; on small documents written here, each kind of difference is found, reported once,
and fails unless listed.
"""

from __future__ import annotations

import copy
import http.server
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from mockserver.cli import main
from mockserver.contract.vendor_diff import Deviation, diff, load_deviations
from mockserver.contract.versions import load_contract

VENDOR = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "vendor"
needs_vendor = pytest.mark.skipif(
    not (VENDOR / "phone-system-v3.json").is_file(), reason=f"the vendor's documents are not at {VENDOR}"
)


def run(*args: str, capsys) -> tuple[int, str]:
    code = main(["contract", "diff", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@needs_vendor
@pytest.mark.parametrize(("name", "version"), [("phone-system-v3.json", "v3"), ("phone-system.json", "2021-07-28")])
def test_the_vendors_documents_differ_only_by_listed_deviations(name: str, version: str) -> None:
    result = diff(str(VENDOR / name))
    assert result.version == version
    assert result.differences, "the comparison found nothing at all: it compared nothing"
    assert [d.describe() for d in result.unlisted()] == []
    assert [f"{d.operation} {d.at} {d.kind}" for d in result.stale()] == []  # every deviation still describes something


@needs_vendor
def test_the_command_on_both_vendor_documents_exits_0(capsys) -> None:
    code, out = run(str(VENDOR / "phone-system-v3.json"), str(VENDOR / "phone-system.json"), "--verbose", capsys=capsys)
    assert code == 0, out
    assert "every difference is a listed deviation" in out and "D32" in out


def test_every_deviation_names_a_written_decision() -> None:
    from mockserver.contract.files import decisions_path

    written = decisions_path().read_text(encoding="utf-8")
    deviations = load_deviations()
    assert deviations
    for deviation in deviations:
        assert f"## {deviation.decision}." in written, deviation
        assert len(deviation.reason) > 40


# -- on documents written here ------------------------------------------------------------------------


def vendor_copy(version: str = "v3") -> dict[str, Any]:
    """A vendor document identical to our contract of `version` (so that each test changes one thing)."""
    return copy.deepcopy(load_contract(version))


def write(tmp_path: Path, document: dict[str, Any], name: str = "vendor.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_an_identical_document_has_no_difference(tmp_path: Path) -> None:
    for version in ("v3", "2021-07-28"):
        assert diff(write(tmp_path, vendor_copy(version)), deviations=[]).differences == []


def keys(document: dict[str, Any], tmp_path: Path) -> list[str]:
    return [d.key for d in diff(write(tmp_path, document), deviations=[]).differences]


def test_each_kind_of_difference_is_found_once(tmp_path: Path) -> None:
    document = vendor_copy()
    item = document["components"]["schemas"]["ActiveNumber"]["properties"]
    item["sid"] = {"type": "integer"}  # type
    item["linkedUser"] = {"type": "string"}  # nullability
    item["extra"] = {"type": "string"}  # a field we do not have
    del item["origin"]  # a field the vendor does not have
    document["components"]["schemas"]["ActiveNumbersData"]["required"] = ["numbers", "total"]  # required list
    active = document["paths"]["/phone-system/numbers/location/{locationId}"]["get"]
    active["parameters"][1]["required"] = True  # pageSize required
    del active["responses"]["429"]  # a status the vendor does not document
    active["security"] = [{"Location-Access": ["phonenumbers.write"]}]  # scopes
    found = keys(document, tmp_path)
    where = "v3 listActiveNumbers response 200 body data.numbers[]"
    assert found.count(f"{where}.sid: type") == 1
    assert f"{where}.linkedUser: nullable" in found
    assert f"{where}.extra: missing-in-ours" in found
    assert f"{where}.origin: missing-in-vendor" in found
    assert "v3 listActiveNumbers response 200 body data: required" in found
    assert "v3 listActiveNumbers parameter query pageSize: required" in found
    assert "v3 listActiveNumbers responses: status-missing-in-vendor" in found
    assert "v3 listActiveNumbers security: scopes" in found
    assert len(found) == len(set(found))


def test_operations_parameters_bodies_and_enums_are_compared(tmp_path: Path) -> None:
    document = vendor_copy("2021-07-28")
    del document["paths"]["/phone-system/number-pools"]
    purchase = document["paths"]["/phone-system/numbers/location/{locationId}/purchase"]["post"]
    body = document["components"]["schemas"]["PurchaseRequest"]["properties"]
    body["numberType"] = {"type": "string", "enum": ["local", "tollFree", "mobile", "national"]}
    purchase["responses"]["418"] = {"description": "teapot"}
    active = document["paths"]["/phone-system/numbers/location/{locationId}"]["get"]
    active["parameters"].append({"name": "includeTeapots", "in": "query", "schema": {"type": "boolean"}})
    found = keys(document, tmp_path)
    assert "2021-07-28 listNumberPools operation: missing-in-vendor" in found
    assert "2021-07-28 purchaseNumber request body numberType: enum" in found
    assert "2021-07-28 purchaseNumber responses: status-missing-in-ours" in found
    assert "2021-07-28 listActiveNumbers parameter query includeTeapots: missing-in-ours" in found


def test_openapi_30_nullable_is_the_same_as_a_null_type(tmp_path: Path) -> None:
    document = vendor_copy("2021-07-28")
    detailed = document["components"]["schemas"]["DetailedPhoneNumber"]["properties"]
    detailed["linkedUser"] = {"type": "string", "nullable": True}
    assert keys(document, tmp_path) == []


def test_references_into_a_document_beside_it_are_followed(tmp_path: Path) -> None:
    document = vendor_copy("2021-07-28")
    common = {"components": {"schemas": {"Error": {"type": "object", "properties": {"message": {"type": "integer"}}}}}}
    (tmp_path / "common").mkdir()
    write(tmp_path / "common", common, "common-schemas.json")
    search = document["paths"]["/phone-system/numbers/location/{locationId}/available"]["get"]
    search["responses"]["401"] = {
        "description": "Unauthorized",
        "content": {
            "application/json": {"schema": {"$ref": "../common/common-schemas.json#/components/schemas/Error"}}
        },
    }
    (tmp_path / "apps").mkdir()
    found = [d.key for d in diff(write(tmp_path / "apps", document), deviations=[]).differences]
    assert "2021-07-28 searchAvailableNumbers response 401 body message: type" in found
    # The same document copied flat, its referenced document beside it (as the vendor's copies are kept)
    write(tmp_path / "apps", common, "common-schemas.json")
    (tmp_path / "common" / "common-schemas.json").unlink()
    found = [d.key for d in diff(write(tmp_path / "apps", document), deviations=[]).differences]
    assert "2021-07-28 searchAvailableNumbers response 401 body message: type" in found


def test_a_listed_difference_passes_and_an_unlisted_one_fails(tmp_path: Path, capsys) -> None:
    document = vendor_copy()
    document["components"]["schemas"]["ActiveNumber"]["properties"]["sid"] = {"type": "integer"}
    source = write(tmp_path, document)
    (tmp_path / "none.yaml").write_text("deviations: []\n", encoding="utf-8")
    code, out = run(source, "--deviations", str(tmp_path / "none.yaml"), capsys=capsys)
    assert code == 1 and "NOT LISTED  v3 listActiveNumbers response 200 body data.numbers[].sid: type" in out
    (tmp_path / "listed.yaml").write_text(
        "deviations:\n  - {version: v3, operation: listActiveNumbers, at: 'response 200 body data.numbers[].sid',"
        " kind: type, decision: D1, reason: a reason long enough to say why this is on purpose}\n",
        encoding="utf-8",
    )
    code, out = run(source, "--deviations", str(tmp_path / "listed.yaml"), capsys=capsys)
    assert code == 0, out


def test_a_deviation_that_matches_nothing_is_reported_as_stale(tmp_path: Path) -> None:
    stale = Deviation("v3", "listActiveNumbers", "response 200 body nothing", "type", "gone", "D1")
    result = diff(write(tmp_path, vendor_copy()), deviations=[stale])
    assert result.stale() == [stale]


def test_the_version_is_read_from_the_version_header_when_info_does_not_say(tmp_path: Path) -> None:
    document = vendor_copy("2021-07-28")
    document["info"]["version"] = "1.0"
    assert diff(write(tmp_path, document), deviations=[]).version == "2021-07-28"


def test_unreadable_or_unknown_documents_exit_2(tmp_path: Path, capsys) -> None:
    assert run(str(tmp_path / "missing.json"), capsys=capsys)[0] == 2
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    assert run(str(tmp_path / "junk.json"), capsys=capsys)[0] == 2
    document = vendor_copy()
    document["info"]["version"] = "9"
    for item in document["paths"].values():
        for operation in item.values():
            operation["parameters"] = [p for p in operation.get("parameters", []) if "$ref" not in p]
    code, out = run(write(tmp_path, document), capsys=capsys)
    assert code == 2 and "--version" in out


def test_a_document_at_a_url_is_fetched(tmp_path: Path, capsys) -> None:
    write(tmp_path, vendor_copy(), "served.json")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/served.json"
        code, out = run(url, "--json", capsys=capsys)
        assert code == 0, out
        assert json.loads(out)[0]["version"] == "v3"
        assert run(url.replace("served", "absent"), capsys=capsys)[0] == 2
    finally:
        server.shutdown()
