"""The inspector page's access rules, the contracts over HTTP, and browser apps as clients (CORS), over HTTP.

What the page does in a browser is in test_inspector_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import yaml
from openapi_spec_validator import validate

from helpers import LOCATION, TOKEN, auth
from mockserver import Sandbox
from mockserver.contract.versions import registry
from mockserver.http.admin_access import CSRF_HEADER, SESSION_COOKIE
from mockserver.http.transport import SyncASGITransport

VERSIONS = registry().names

KEY = "inspector-admin-key"
APP_ORIGIN = "http://localhost:5173"


def client_of(sandbox: Sandbox, base_url: str = "http://127.0.0.1:4010") -> httpx.Client:
    return httpx.Client(transport=SyncASGITransport(sandbox.app), base_url=base_url)


@pytest.fixture
def keyed() -> Iterator[httpx.Client]:
    with client_of(Sandbox(admin_key=KEY)) as client:
        yield client


def csrf_of(page: str) -> str:
    found = re.search(r"name=lcphone-csrf content='([0-9a-f]+)'", page)
    assert found, "the page carries its CSRF token"
    return found.group(1)


def test_without_a_key_the_page_is_a_form_and_the_key_earns_a_strict_http_only_cookie(keyed) -> None:
    form = keyed.get("/__admin/ui")
    assert form.status_code == 401 and "admin key" in form.text and "<form" in form.text
    wrong = keyed.post("/__admin/ui/session", content="key=nope", headers={"Content-Type": FORM})
    assert wrong.status_code == 401 and "not the admin key" in wrong.text
    right = keyed.post("/__admin/ui/session", content=f"key={KEY}", headers={"Content-Type": FORM})
    assert right.status_code == 303 and right.headers["location"] == "/__admin/ui"
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and KEY not in cookie
    assert all(part in cookie for part in ("HttpOnly", "SameSite=strict", "Path=/__admin"))
    page = keyed.get("/__admin/ui")  # the cookie is kept by the client, as a browser would
    assert page.status_code == 200 and "lcphone inspector" in page.text and LOCATION in page.text


FORM = "application/x-www-form-urlencoded"


def test_a_change_with_the_cookie_alone_needs_the_pages_csrf_token(keyed) -> None:
    keyed.post("/__admin/ui/session", content=f"key={KEY}", headers={"Content-Type": FORM})
    csrf = csrf_of(keyed.get("/__admin/ui").text)
    assert keyed.get("/__admin/health").status_code == 200  # reading needs the cookie only
    refused = keyed.post("/__admin/reset")
    assert (
        refused.status_code == 401 and refused.json()["message"] == "A change needs the page's X-Lcphone-Csrf header."
    )
    assert keyed.post("/__admin/reset", headers={CSRF_HEADER: "0" * 64}).status_code == 401
    assert keyed.post("/__admin/reset", headers={CSRF_HEADER: csrf}).status_code == 200


def test_a_page_of_another_origin_is_refused_key_or_not() -> None:
    with client_of(Sandbox()) as open_sandbox:  # loopback, no key: still not for other origins
        for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
            refused = open_sandbox.post("/__admin/reset", headers=headers)
            assert refused.status_code == 403, headers
            assert refused.json() == {
                "statusCode": 403,
                "message": "The admin API does not answer pages of another origin.",
                "error": "Forbidden",
            }
            assert open_sandbox.get("/__admin/ui", headers=headers).status_code == 403
            assert open_sandbox.post("/__admin/ui/session", content="key=x", headers=headers).status_code == 403
        same = open_sandbox.post("/__admin/reset", headers={"Origin": "http://127.0.0.1:4010"})
        assert same.status_code == 200


def test_the_page_escapes_what_it_shows() -> None:
    scenario = "name: '<img src=x onerror=alert(1)>'\nlocations:\n  - id: loc1\n    name: '<b>Bold & co</b>'\n"
    with client_of(Sandbox()) as client:
        assert client.post(
            "/__admin/scenario", content=scenario, headers={"Content-Type": "application/yaml"}
        ).is_success
        page = client.get("/__admin/ui").text
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>" not in page and "&lt;b&gt;Bold &amp; co&lt;/b&gt;" in page


def test_a_browser_asking_for_a_favicon_does_not_reach_the_journal() -> None:
    sandbox = Sandbox()
    with client_of(sandbox) as client:
        icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert sandbox.journal.entries() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_each_contract_is_served_as_yaml_and_json_pointing_at_the_sandbox(version: str) -> None:
    with client_of(Sandbox(), "http://sandbox.test:4010") as client:
        listing = client.get("/__admin/contracts").json()
        served = {entry["version"]: entry for entry in listing["versions"]}
        assert list(served) == list(VERSIONS)
        as_json = client.get(served[version]["json"])
        as_yaml = client.get(served[version]["yaml"])
    assert as_json.headers["content-type"] == "application/json"
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    document = as_json.json()
    assert yaml.safe_load(as_yaml.text) == document
    validate(document)  # a valid OpenAPI document, whole (no $ref to a file beside it)
    assert "$ref: '../" not in as_yaml.text and '"../' not in as_json.text
    assert document["servers"] == [{"url": "http://sandbox.test:4010", "description": "This lcphone sandbox"}]
    assert set(document["paths"]) >= {"/phone-system/number-pools", "/phone-system/numbers/location/{locationId}"}


def test_a_tool_that_imports_the_served_contract_calls_the_sandbox() -> None:
    """What Postman or Insomnia do with it: the server, each path with its parameters' examples; over a socket."""
    from mockserver.serve.thread import SandboxServer

    with SandboxServer(Sandbox()) as server:
        document = httpx.get(f"{server.base_url}/openapi.json").json()
        assert document["servers"][0]["url"] == server.base_url
        header = document["components"]["parameters"]["VersionHeader"]
        called = []
        for path, operations in document["paths"].items():
            get = operations.get("get")
            if get is None:
                continue
            params = [header if "$ref" in p else p for p in get["parameters"]]
            filled = path
            query, headers = {}, auth(TOKEN)
            for param in params:
                example = param.get("example", param["schema"].get("example", ""))
                if param["in"] == "path":
                    filled = filled.replace("{" + param["name"] + "}", str(example))
                elif param["in"] == "query":
                    query[param["name"]] = str(example).lower() if isinstance(example, bool) else example
                else:
                    headers[param["name"]] = str(example)
            answer = httpx.get(document["servers"][0]["url"] + filled, params=query, headers=headers)
            assert answer.status_code == 200, (path, answer.text)
            called.append(path)
        assert len(called) == 3  # pools, search, active numbers
        assert httpx.get(f"{server.base_url}/openapi.yaml").text.startswith("openapi:")


def test_an_unknown_contract_name_is_a_404_naming_the_ones_there_are() -> None:
    with client_of(Sandbox()) as client:
        answer = client.get("/__admin/contracts/v4.json")
        admin = client.get("/__admin/contracts/admin.json")
    assert answer.status_code == 404
    assert answer.json()["message"] == ("No contract 'v4.json': v3.yaml, v3.json, 2021-07-28.yaml, 2021-07-28.json")
    assert admin.status_code == 200 and "/__admin/reset" in admin.json()["paths"]


def test_the_contracts_obey_the_admin_keys_rules(keyed) -> None:
    assert keyed.get("/__admin/contracts").status_code == 401
    assert keyed.get("/__admin/contracts/v3.json", headers={"X-Admin-Key": KEY}).status_code == 200
    assert keyed.get("/openapi.json").status_code == 200  # the public contract, as vendors publish theirs


# -- CORS -----------------------------------------------------------------------------------------------------


@pytest.fixture
def browser_app() -> Iterator[httpx.Client]:
    with client_of(Sandbox(cors_origins=(APP_ORIGIN,))) as client:
        yield client


def preflight(
    client: httpx.Client, origin: str = APP_ORIGIN, method: str = "POST", headers: str = ""
) -> httpx.Response:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return client.options("/phone-system/numbers/location/x/purchase", headers=asked)


def test_a_preflight_for_the_headers_clients_send_is_allowed(browser_app) -> None:
    answer = preflight(browser_app, headers="authorization, version, content-type")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "version", "content-type"} <= allowed
    assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
    assert answer.headers["access-control-max-age"] == "600"


def test_an_answer_to_a_browser_app_is_readable_with_its_rate_limit_headers(browser_app) -> None:
    answer = browser_app.get(
        f"/phone-system/numbers/location/{LOCATION}", headers={**auth(TOKEN), "Origin": APP_ORIGIN}
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "X-RateLimit-Remaining" in answer.headers["access-control-expose-headers"]


@pytest.mark.parametrize(
    ("origin", "method", "headers", "says"),
    [
        ("http://evil.example", "POST", "", "origin 'http://evil.example' (allowed: http://localhost:5173)"),
        (APP_ORIGIN, "DELETE", "", "method 'DELETE' (allowed: GET, POST)"),
        (APP_ORIGIN, "POST", "authorization, x-custom", "headers 'x-custom' (allowed: Authorization, Version,"),
    ],
)
def test_a_refused_preflight_names_what_was_refused_in_the_apis_shape(browser_app, origin, method, headers, says):
    answer = preflight(browser_app, origin, method, headers)
    assert answer.status_code == 400
    body = answer.json()
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert body["message"].startswith("CORS preflight refused: ") and says in body["message"]


def test_any_origin_with_a_star_and_none_without_the_option() -> None:
    with client_of(Sandbox(cors_origins=("*",))) as anyone:
        assert preflight(anyone, origin="http://any.example").headers["access-control-allow-origin"] == "*"
    with client_of(Sandbox()) as closed:
        answer = preflight(closed)
        assert "access-control-allow-origin" not in answer.headers
        assert answer.status_code == 405 and answer.json()["statusCode"] == 405


def test_serve_prints_the_inspector_and_warns_of_a_star(serve) -> None:
    served = serve("--cors-origin", "*", "--cors-origin", APP_ORIGIN)
    assert served.value("inspector") == f"{served.base_url}/__admin/ui"
    assert served.value("CORS") == f"*, {APP_ORIGIN}"
    assert served.value("contracts").startswith(f"{served.base_url}/openapi.json")
    page = httpx.get(served.value("inspector"))
    assert page.status_code == 200 and "lcphone inspector" in page.text
    _, _, err = served.stop()
    assert "--cors-origin '*' lets any web page call this sandbox" in err
