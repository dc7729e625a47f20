"""Faults on demand: latency, a status for the next N calls or a share of them, a dropped connection, a cut body."""

from __future__ import annotations

import time

import httpx
import pytest

from helpers import LOCATION, Api, auth, problems
from mockserver import Sandbox
from mockserver.control.faults import FaultRule
from mockserver.serve.thread import SandboxServer


@pytest.fixture
def api(raw_http) -> Api:
    return Api(raw_http)


@pytest.fixture
def http(raw_http):
    return raw_http


def test_a_status_for_the_next_n_calls_of_one_operation(http, api: Api) -> None:
    added = http.post("/__admin/faults", json={"operationId": "searchAvailableNumbers", "status": 503, "times": 2})
    assert added.status_code == 201 and added.json()["operationId"] == "searchAvailableNumbers"
    assert [api.search().status_code for _ in range(3)] == [503, 503, 200]
    assert api.pools().status_code == 200  # other operations untouched
    failed = http.post("/__admin/faults", json={"status": 500, "times": 1})
    assert failed.status_code == 201
    response = api.pools()
    assert response.status_code == 500 and response.json() == {
        "statusCode": 500,
        "message": "Injected fault: status 500",
        "error": "Internal Server Error",
    }


def test_faults_are_visible_and_clearable(http, api: Api) -> None:
    http.post("/__admin/faults", json={"operationId": "listActiveNumbers", "latencyMs": 10})
    listed = http.get("/__admin/faults").json()["faults"]
    assert len(listed) == 1 and listed[0]["latencyMs"] == 10 and listed[0]["hits"] == 0
    api.active()
    assert http.get("/__admin/faults").json()["faults"][0]["hits"] == 1
    assert http.delete("/__admin/faults").json() == {"faults": []}
    assert http.get("/__admin/faults").json()["faults"] == []


def test_added_latency(http, api: Api) -> None:
    http.post("/__admin/faults", json={"operationId": "listNumberPools", "latencyMs": 150})
    started = time.perf_counter()
    assert api.pools().status_code == 200
    assert time.perf_counter() - started >= 0.15


def test_a_share_of_calls_fails_the_same_way_every_run(http, api: Api) -> None:
    def run() -> list[int]:
        http.post("/__admin/reset")
        http.post("/__admin/faults", json={"status": 502, "ratio": 0.5})
        return [api.pools().status_code for _ in range(30)]

    first = run()
    assert set(first) == {200, 502} and 5 < first.count(502) < 25
    assert run() == first


def test_a_fault_header_on_one_request(api: Api, http) -> None:
    response = http.get(
        "/phone-system/number-pools",
        params={"locationId": LOCATION},
        headers={**auth(), "X-Lcphone-Fault": "status=429"},
    )
    assert response.status_code == 429
    assert api.pools().status_code == 200


def test_bad_fault_rules_are_refused_naming_the_field(http) -> None:
    for body, field in [
        ({"operationId": "nope", "status": 500}, "operationId"),
        ({"status": 200}, "status"),
        ({"latencyMs": -1}, "latencyMs"),
        ({"status": 500, "ratio": 2}, "ratio"),
        ({"status": 500, "times": 1, "ratio": 0.5}, "times, ratio"),
        ({}, "fault"),
        ({"status": 500, "colour": "red"}, "colour"),
    ]:
        response = http.post("/__admin/faults", json=body)
        assert any(message.startswith(field) for message in problems(response)), response.json()


def test_a_dropped_connection_over_a_socket_sends_no_status_line() -> None:
    import socket

    sandbox = Sandbox()
    with SandboxServer(sandbox) as server, httpx.Client(base_url=server.base_url) as client:
        sandbox.add_fault(FaultRule(operation_id="listNumberPools", drop=True, times=1))
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(
                f"GET /phone-system/number-pools?locationId={LOCATION} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: {auth()['Authorization']}\r\n\r\n".encode()
            )
            received = b""
            try:
                while chunk := raw.recv(4096):
                    received += chunk
            except ConnectionResetError:
                pass
        assert received == b""  # nothing at all: not even a status line
        sandbox.add_fault(FaultRule(operation_id="listNumberPools", drop=True, times=1))
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth())
        assert (
            client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth()).status_code == 200
        )


def test_a_truncated_body_breaks_the_read() -> None:
    sandbox = Sandbox()
    with SandboxServer(sandbox) as server, httpx.Client(base_url=server.base_url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"/phone-system/numbers/location/{LOCATION}", headers={**auth(), "X-Lcphone-Fault": "truncate"})
        assert client.get(f"/phone-system/numbers/location/{LOCATION}", headers=auth()).status_code == 200


def test_in_process_a_dropped_connection_is_the_error_a_socket_gives(api: Api, http) -> None:
    http.post("/__admin/faults", json={"drop": True, "times": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        api.pools()
    assert api.pools().status_code == 200


def test_the_fixture_helper(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
def test_retry(lcphone):
    lcphone.fault("purchaseNumber", status=503, times=1)
    first = lcphone.client.post(f"/phone-system/numbers/location/{lcphone.location_id}/purchase", json={})
    assert first.status_code == 503

def test_gone_next_test(lcphone):
    assert lcphone.sandbox.faults.rules == []
""")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_serve_takes_faults_on_the_command_line(serve) -> None:
    served = serve("--fault", "listNumberPools:status=503,times=1")
    with httpx.Client(base_url=served.base_url) as client:
        statuses = [
            client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth()).status_code
            for _ in range(2)
        ]
    assert statuses == [503, 200]


def test_serve_refuses_a_bad_fault_spec(serve) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "serve", "--fault", "status=abc"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "status" in result.stderr


KNOWN = "(known: operationId, latencyMs, status, drop, truncate, times, ratio)"


def test_a_fault_the_sandbox_cannot_understand_is_refused_naming_the_keys_it_knows(raw_http, capsys) -> None:
    from mockserver.cli import main

    typo = raw_http.get(
        f"/phone-system/numbers/location/{LOCATION}", headers={**auth(), "X-Lcphone-Fault": "stats=503"}
    )
    assert typo.status_code == 400  # a typo must not pass as a request served normally
    assert typo.json()["message"] == f"X-Lcphone-Fault: stats: is not a known field {KNOWN}"
    [entry] = raw_http.get("/__admin/journal").json()["requests"]
    assert not entry["conforms"] and entry["violations"][0]["field"] == "header.X-Lcphone-Fault"
    added = raw_http.post("/__admin/faults", json={"operationId": "*", "stats": 503})
    assert added.status_code == 400 and added.json()["message"] == f"stats: is not a known field {KNOWN}"
    assert main(["serve", "--fault", "listNumberPools:stats=503", "--port", "0"]) == 2
    assert f"stats: is not a known field {KNOWN}" in capsys.readouterr().err
