"""Clients that never finish their request, and headers of any size, over real sockets: neither may block a client
that does finish, nor make the sandbox's memory grow."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from helpers import LOCATION, TOKEN, received_until_closed

PURCHASE = f"/phone-system/numbers/location/{LOCATION}/purchase"


def _address(served) -> tuple[str, int]:
    return "127.0.0.1", int(served.base_url.rsplit(":", 1)[1])


def _stalled_post(address: tuple[str, int], chunked: bool = False) -> socket.socket:
    """A purchase whose headers are sent, then one byte of its body (or one chunk of a chunked body that never
    ends), and nothing more."""
    connection = socket.create_connection(address, timeout=5)
    framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 200"
    connection.sendall(
        (
            f"POST {PURCHASE} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nVersion: v3\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n" + ("1\r\n{\r\n" if chunked else "{")
        ).encode()
    )
    return connection


def _answer(connection: socket.socket, timeout: float) -> bytes:
    connection.settimeout(timeout)
    return received_until_closed(connection)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_requests_that_never_finish_do_not_lock_out_those_that_do(serve) -> None:
    served = serve("--max-connections", "40", "--body-timeout", "30")
    address = _address(served)
    stalled = [_stalled_post(address, chunked=i % 2 == 1) for i in range(120)]  # three times the cap
    try:
        time.sleep(0.3)
        url = f"{served.base_url}/phone-system/numbers/location/{LOCATION}"
        headers = {"Authorization": f"Bearer {TOKEN}", "Version": "v3"}
        # Sequential, each on a new connection: room is made from the slowest senders.
        for _ in range(20):
            assert httpx.get(url, headers=headers, timeout=5).status_code == 200
        with ThreadPoolExecutor(20) as pool:  # and at once
            statuses = list(pool.map(lambda _: httpx.get(url, headers=headers, timeout=10).status_code, range(40)))
        assert statuses.count(200) == 40, statuses
    finally:
        for connection in stalled:
            connection.close()


def test_a_body_that_does_not_arrive_in_time_is_answered_408_in_the_error_shape(serve) -> None:
    served = serve("--body-timeout", "0.8")
    address = _address(served)
    trickled, chunked = _stalled_post(address), _stalled_post(address, chunked=True)
    started = time.monotonic()
    for connection in (trickled, chunked):
        answer = _answer(connection, 5)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body == {
            "statusCode": 408,
            "message": "The request body did not arrive within 0.8 s (--body-timeout).",
            "error": "Request Timeout",
        }
        connection.close()
    assert time.monotonic() - started < 4
    # A body that comes in time is not hurried: each byte a little late, the whole within the timeout.
    with socket.create_connection(address, timeout=5) as slow:
        body = b'{"phoneNumber": "+1"}'
        slow.sendall(
            f"POST {PURCHASE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nVersion: v3\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        for piece in (body[:5], body[5:]):
            time.sleep(0.25)
            slow.sendall(piece)
        assert _answer(slow, 5).startswith(b"HTTP/1.1 400")  # the contract's answer, not a timeout


def test_headers_past_the_bound_are_answered_431_and_memory_stays_bounded(serve) -> None:
    served = serve("--max-header-bytes", "16384")
    address = _address(served)
    with socket.create_connection(address, timeout=5) as big:
        big.sendall(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
        answer = _answer(big, 5)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large"), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {
        "statusCode": 431,
        "message": "The request line and headers are larger than 16384 bytes (--max-header-bytes).",
        "error": "Request Header Fields Too Large",
    }
    before = _rss_kib(served.process.pid)

    def send_huge_header() -> None:  # 40 MB, as fast as the server takes it: it stops taking it at 16 KiB
        with socket.create_connection(address, timeout=5) as huge:
            try:
                huge.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Huge: ")
                block = b"b" * 1_000_000
                for _ in range(40):
                    huge.sendall(block)
            except OSError:
                pass  # closed by the server, as it should be

    threads = [threading.Thread(target=send_huge_header) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    grown_mib = (_rss_kib(served.process.pid) - before) / 1024
    assert grown_mib < 40, f"RSS grew {grown_mib:.0f} MiB"  # it grew 900 MiB before the bound
    # Headers within the bound are served, a large token included.
    fine = httpx.get(f"{served.base_url}/__admin/health", headers={"X-Fine": "c" * 12_000})
    assert fine.status_code == 200


def test_the_proxy_has_the_same_guards(serve) -> None:
    from mockserver.serve.process import ServeProcess

    staging = serve()
    with ServeProcess("--target", staging.base_url, command="proxy") as proxy:
        big = socket.create_connection(_address(proxy), timeout=5)
        big.sendall(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        assert _answer(big, 5).startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
        big.close()


def test_a_body_cut_short_is_no_crash_of_the_api_or_the_admin_api(serve) -> None:
    served = serve("--body-timeout", "0.5")
    address = _address(served)
    admin = socket.create_connection(address, timeout=5)
    admin.sendall(b"POST /__admin/scenario HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/yaml\r\n"
                  b"Content-Length: 500\r\n\r\nname: half")  # fmt: skip
    for connection in (admin, _stalled_post(address)):
        assert _answer(connection, 5).startswith(b"HTTP/1.1 408")
        connection.close()
    assert httpx.get(f"{served.base_url}/__admin/health").status_code == 200
    assert httpx.get(f"{served.base_url}/__admin/journal").json()["requests"] == []  # no verdict on half a body
    _, _, err = served.stop()
    assert "Traceback" not in err and "Exception in ASGI application" not in err, err
