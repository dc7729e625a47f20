"""The admin API cannot be reached by a client token; beyond loopback it needs an admin key."""

from __future__ import annotations

import httpx

from helpers import TOKEN, auth
from mockserver import Sandbox
from mockserver.http.transport import SyncASGITransport
from mockserver.serve.settings import is_loopback


def test_with_an_admin_key_admin_requests_need_it() -> None:
    sandbox = Sandbox(admin_key="s3cret-admin-key")
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        refused = client.post("/__admin/reset")
        assert refused.status_code == 401
        assert refused.json() == {
            "statusCode": 401,
            "message": "The admin API needs the X-Admin-Key header.",
            "error": "Unauthorized",
        }
        assert client.post("/__admin/tokens", json={"locationId": "x"}, headers=auth(TOKEN)).status_code == 401
        assert client.get("/__admin/health", headers={"X-Admin-Key": "wrong"}).status_code == 401
        assert client.get("/__admin/health", headers={"X-Admin-Key": "s3cret-admin-key"}).status_code == 200
        assert (
            client.get(
                "/phone-system/number-pools", params={"locationId": "tDtDnQdgm2LXpyiqYvZ6"}, headers=auth(TOKEN)
            ).status_code
            == 200
        )  # the API itself is unchanged


def test_loopback_detection() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.10", "::", "example.com"]))


def test_serving_beyond_loopback_generates_a_key(serve) -> None:
    served = serve("--host", "0.0.0.0")
    key = served.value("admin key").split()[0]
    base = served.base_url.replace("0.0.0.0", "127.0.0.1")
    assert httpx.post(f"{base}/__admin/reset").status_code == 401
    assert httpx.post(f"{base}/__admin/reset", headers={"X-Admin-Key": key}).status_code == 200


def test_on_loopback_no_key_is_needed_unless_given(serve) -> None:
    open_sandbox = serve()
    assert not any("admin key" in line for line in open_sandbox.banner)
    assert httpx.get(f"{open_sandbox.base_url}/__admin/health").status_code == 200
    keyed = serve("--admin-key", "given-key")
    assert httpx.get(f"{keyed.base_url}/__admin/health").status_code == 401
    assert httpx.get(f"{keyed.base_url}/__admin/health", headers={"X-Admin-Key": "given-key"}).status_code == 200


def test_on_loopback_only_loopback_names_and_allowed_ones_reach_the_admin_api(serve) -> None:
    served = serve("--allowed-host", "Sandbox.Test")
    base = served.base_url
    port = base.rsplit(":", 1)[1]
    # A page of evil.example that pointed its name at 127.0.0.1 (DNS rebinding): same-origin, its name in Host.
    for path, method in [("/__admin/reset", "POST"), ("/__admin/journal?showTokens=true", "GET"),
                         ("/__admin/ui", "GET"), ("/__admin/tokens", "POST")]:  # fmt: skip
        refused = httpx.request(method, base + path, headers={"Host": f"evil.example:{port}"}, json={})
        assert refused.status_code == 403, (path, refused.text)
        assert "--allowed-host evil.example" in refused.json()["message"]
        assert refused.headers["x-frame-options"] == "DENY"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"sandbox.test:{port}", "app.localhost"):
        assert httpx.get(base + "/__admin/health", headers={"Host": host}).status_code == 200, host
    # The API itself answers any name, as the vendor's does.
    api = httpx.get(f"{base}/phone-system/number-pools", params={"locationId": "tDtDnQdgm2LXpyiqYvZ6"},
                    headers={**auth(TOKEN), "Host": "evil.example"})  # fmt: skip
    assert api.status_code == 200
    # Beyond loopback the key guards it, whatever the name.
    wide = serve("--host", "0.0.0.0", "--admin-key", "wide-key")
    wide_base = wide.base_url.replace("0.0.0.0", "127.0.0.1")
    answered = httpx.get(wide_base + "/__admin/health", headers={"Host": "lan-name.example", "X-Admin-Key": "wide-key"})
    assert answered.status_code == 200


def test_no_page_may_frame_the_inspector_or_the_admin_api(serve) -> None:
    served = serve()
    for path in ("/__admin/ui", "/__admin/health"):
        answer = httpx.get(served.base_url + path)
        assert answer.status_code == 200
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_wrong_keys_are_throttled_and_sessions_expire(serve) -> None:
    from mockserver.http.admin_access import SESSION_SECONDS, AdminAccess

    served = serve("--admin-key", "right-key")
    health = served.base_url + "/__admin/health"
    statuses = [httpx.get(health, headers={"X-Admin-Key": f"guess-{i}"}).status_code for i in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429], statuses
    throttled = httpx.get(health, headers={"X-Admin-Key": "right-key"})  # even the right key waits its turn
    assert throttled.status_code == 429 and 1 <= int(throttled.headers["retry-after"]) <= 60
    assert throttled.json()["message"].startswith("Too many wrong admin keys: retry after")
    form = httpx.post(served.base_url + "/__admin/ui/session", data={"key": "guess"})
    assert form.status_code == 429  # the form is throttled too
    # A session cookie carries its time of issue, signed with the key; it expires, and a new key ends it.
    clock = [1_000_000.0]
    access = AdminAccess(Sandbox(admin_key="k"), clock=lambda: clock[0])
    cookie = access.new_session()
    assert access.session_valid(cookie)
    clock[0] += SESSION_SECONDS - 1
    assert access.session_valid(cookie)
    clock[0] += 1
    assert not access.session_valid(cookie)
    assert not access.session_valid(cookie.split(".")[0] + "." + "0" * 64)
    assert not AdminAccess(Sandbox(admin_key="other"), clock=lambda: 1_000_000.0).session_valid(cookie)


def test_the_key_forms_cookie_expires(serve) -> None:
    served = serve("--admin-key", "form-key")
    answer = httpx.post(served.base_url + "/__admin/ui/session", data={"key": "form-key"})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "Max-Age=43200" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
