"""Garbage in: every request gets a 4xx in the error shape (never a 500), and the server keeps serving.

A byte-level fuzzer drives the ASGI app with arbitrary methods, paths, query strings, headers and
bodies; another throws arbitrary bytes at a real socket. Both are bounded and derandomized.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import LOCATION, TOKEN, auth, received_until_closed
from mockserver import Sandbox
from mockserver.serve.thread import SandboxServer

FUZZ = settings(
    max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)
PATHS = [
    "/phone-system/number-pools",
    f"/phone-system/numbers/location/{LOCATION}",
    f"/phone-system/numbers/location/{LOCATION}/available",
    f"/phone-system/numbers/location/{LOCATION}/purchase",
]
SANDBOX = Sandbox()


def call(method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    """One raw ASGI request: what arrives after any HTTP parser, however strange."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("sandbox", 80),
    }
    chunks: list[bytes] = []
    status: list[int] = []
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
        else:
            chunks.append(message.get("body", b""))

    asyncio.run(SANDBOX.app(scope, receive, send))
    return status[0], b"".join(chunks)


header_names = st.sampled_from(
    [b"authorization", b"version", b"content-type", b"content-length", b"x-lcphone-fault", b"accept", b"x-admin-key"]
)
header_values = st.one_of(
    st.binary(max_size=80), st.sampled_from([f"Bearer {TOKEN}".encode(), b"v3", b"application/json"])
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.one_of(
        st.sampled_from(PATHS),
        st.text(max_size=60).map(lambda t: "/" + t),
        st.sampled_from(PATHS).flatmap(lambda p: st.text(max_size=20).map(lambda t: p + "/" + t)),
    ),
    query=st.binary(max_size=300),
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
    body=st.one_of(
        st.binary(max_size=2000),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
            max_leaves=20,
        ).map(orjson.dumps),
    ),
)
def test_arbitrary_requests_never_get_a_5xx(method, path, query, headers, body) -> None:
    SANDBOX.crashes.clear()
    status, content = call(method, path, query, headers, body)
    if any(name == b"x-lcphone-fault" for name, _ in headers):
        return  # a fault asked for by the request itself may be any status, or none
    assert status < 500, (status, content)
    assert not SANDBOX.crashes, SANDBOX.crashes
    if status >= 400 and method != "HEAD":  # HEAD answers carry no body
        error = orjson.loads(content)
        assert error["statusCode"] == status and error["message"]


def test_the_fuzzer_reaches_every_operation() -> None:
    # A sanity check on the fuzzer's reach: valid requests through the same door succeed.
    headers = [(b"authorization", f"Bearer {TOKEN}".encode()), (b"version", b"v3")]
    assert call("GET", PATHS[0], f"locationId={LOCATION}".encode(), headers, b"")[0] == 200
    assert call("GET", PATHS[1], b"", headers, b"")[0] == 200


@pytest.fixture(scope="module")
def server():
    with SandboxServer(Sandbox()) as running:
        yield running


def still_serving(server: SandboxServer) -> None:
    response = httpx.get(f"{server.base_url}/phone-system/numbers/location/{LOCATION}", headers=auth(), timeout=5)
    assert response.status_code == 200


def raw_exchange(server: SandboxServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        return received_until_closed(connection)


@settings(max_examples=60, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        st.binary(max_size=200).map(lambda b: b"GET /phone-system/number-pools?" + b + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        st.binary(max_size=200).map(
            lambda b: (
                b"POST /phone-system/numbers/location/x/purchase HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 5\r\n" + b + b"\r\n\r\n{}"
            )
        ),
    )
)
def test_arbitrary_bytes_on_the_socket_never_stop_the_server(server, data: bytes) -> None:
    answer = raw_exchange(server, data)
    if answer.startswith(b"HTTP/1.1 5"):
        pytest.fail(f"a 5xx for {data[:80]!r}: {answer[:200]!r}")
    still_serving(server)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /phone-system/numbers/location/x HTTP/1.1\r\nHost: x\r\nVersion: v3\rX-Injected: 1\r\n\r\n",
        b"GET /phone-system/numbers/location/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\nb\r\n\r\n",
        b"GET /phone-system/numbers/location/x%0d%0aSet-Cookie:%20a=b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 100_000 + b"\r\n\r\n",
    ],
    ids=["cr-in-header", "lf-in-header", "crlf-in-path", "huge-path", "huge-header"],
)
def test_header_injection_and_absurd_requests_are_refused(server, request_bytes: bytes) -> None:
    answer = raw_exchange(server, request_bytes)
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    assert b"Set-Cookie" not in answer.split(b"\r\n\r\n")[0] and b"X-Injected" not in answer
    still_serving(server)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def any_state(request: pytest.FixtureRequest, tmp_path) -> list[str]:
    """`lcphone serve` options for each store: memory, a SQLite file, a PostgreSQL database."""
    if request.param == "memory":
        return []
    if request.param == "sqlite":
        return ["--state", str(tmp_path / "state.db")]
    return ["--state", request.getfixturevalue("postgres_url")]


def test_a_nul_character_is_a_400_naming_the_field_on_every_store_and_version(serve, any_state) -> None:
    from helpers import LEGACY, SEARCH_DEFAULTS, V3, purchase_body

    served = serve(*any_state)
    listing = f"/phone-system/numbers/location/{LOCATION}"
    with httpx.Client(base_url=served.base_url, timeout=30) as client:
        number = client.get(f"{listing}/available", params=SEARCH_DEFAULTS, headers=auth()).json()["numbers"][0]
        for version in (V3, LEGACY):
            for field in ("fingerprintId", "locality"):
                body = purchase_body(number, f"nul-{version}-{field}")
                body[field] = "before\u0000after"
                answer = client.post(f"{listing}/purchase", json=body, headers=auth(version=version))
                assert answer.status_code == 400, (version, field, answer.text)
                assert answer.json()["error"] == "Bad Request"
                assert f"{field}: must not contain a NUL character" in str(answer.json()["message"])
            escaped = purchase_body(number, "a literal backslash-u is no NUL \\u0000")  # "\\u0000" in the JSON text
            answer = client.post(f"{listing}/purchase", json=escaped, headers=auth(version=version))
            assert answer.status_code != 500 and "NUL" not in answer.text, answer.text
        # and in the path and the query, where no schema names it: a 4xx, never a 500
        for path, params in (
            (f"/phone-system/numbers/location/{LOCATION}%00x", None),
            (f"{listing}/available", {**SEARCH_DEFAULTS, "anywhere": "1\u00002"}),
            ("/phone-system/number-pools", {"locationId": "x\u0000y"}),
        ):
            answer = client.get(path, params=params, headers=auth())
            assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
        for path, admin_body in (
            ("/__admin/tokens", {"locationId": "a\u0000b"}),
            ("/__admin/locations", {"id": "nulLocation", "name": "a\u0000b"}),
            ("/__admin/scenario", {"name": "n\u0000", "locations": [{"id": "x\u0000"}]}),
        ):
            answer = client.post(path, json=admin_body)
            assert answer.status_code == 400 and "NUL" in answer.text, (path, answer.status_code, answer.text)
