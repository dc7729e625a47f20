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
