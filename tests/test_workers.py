"""`lcphone serve` as processes: workers that answer as one sandbox and die with their master, connection limits,
the access log, a banner that gives a usable address.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from helpers import LOCATION, TOKEN, auth
from mockserver.serve.process import ServeProcess

TINY = {"name": "tiny", "locations": [{"id": "tinyLocation", "tokens": [{"value": "pit-tiny-token-000001"}]}]}


def worker_pids(master: int) -> list[int]:
    """The pids of the processes whose parent is `master` (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().split(") ")[1].split()[1]) == master:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return children


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().split(") ")[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_answer_as_one_sandbox(serve, tmp_path: Path) -> None:
    served = serve("--workers", "2", "--state", str(tmp_path / "state.db"))
    base = served.base_url
    with httpx.Client(base_url=base) as http:  # a new connection per request spreads them over the workers
        assert http.post("/__admin/scenario", json=TINY).status_code == 200
        for _ in range(12):  # before: either worker's scenario, at random
            assert httpx.post(f"{base}/__admin/reset").json()["scenario"] == "tiny"
        assert {httpx.get(f"{base}/__admin/health").json()["scenario"] for _ in range(8)} == {"tiny"}
        assert httpx.post(f"{base}/__admin/faults", json={"status": 503, "times": 4}).status_code == 201
        statuses = [
            httpx.get(
                f"{base}/phone-system/number-pools",
                params={"locationId": "tinyLocation"},
                headers=auth("pit-tiny-token-000001"),
            ).status_code
            for _ in range(16)
        ]
        assert statuses.count(503) == 4 and statuses.count(200) == 12  # the next 4 calls, counted across workers
        assert {len(httpx.get(f"{base}/__admin/faults").json()["faults"]) for _ in range(6)} == {0}
        httpx.put(f"{base}/__admin/rate-limits", json={"burst": 33})
        assert {httpx.get(f"{base}/__admin/rate-limits").json()["burst"] for _ in range(6)} == {33}


def test_workers_die_with_their_master_and_a_restart_works(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    first = ServeProcess("--workers", "2", "--state", state)
    port = int(first.base_url.rsplit(":", 1)[1])
    master = first.process.pid
    deadline = time.monotonic() + 10
    while len(workers := worker_pids(master)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) >= 2  # the two workers (and multiprocessing's resource tracker)
    os.kill(master, signal.SIGKILL)
    first.process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "workers outlived their master"
    with ServeProcess("--workers", "2", "--state", state, "--port", str(port), port_given=True) as second:
        assert httpx.get(f"{second.base_url}/__admin/health").status_code == 200


def test_the_temporary_state_of_workers_is_removed_when_they_stop(serve) -> None:
    served = serve("--workers", "2")
    state = Path(served.value("state").split()[0].removeprefix("sqlite:"))
    assert state.is_file()
    returncode, _, err = served.stop()
    assert returncode == 0, err
    assert not state.parent.exists()


def test_at_the_cap_idle_connections_make_room_and_busy_ones_mean_503(serve) -> None:
    served = serve("--max-connections", "20", "--header-timeout", "0.5")
    host, port = "127.0.0.1", int(served.base_url.rsplit(":", 1)[1])
    idle = [socket.create_connection((host, port), timeout=5) for _ in range(20)]
    try:
        time.sleep(0.2)
        # Full of connections that never sent a request: a client still gets in, the oldest idle one goes.
        assert httpx.get(f"{served.base_url}/__admin/health").status_code == 200
        idle[0].settimeout(2)
        assert idle[0].recv(100) == b""
        slowloris = socket.create_connection((host, port), timeout=5)
        slowloris.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(0.9)  # longer than the header timeout: every silent and every slow connection is closed
        for connection in [*idle, slowloris]:
            connection.settimeout(2)
            assert connection.recv(100) == b""
    finally:
        for connection in idle:
            connection.close()
    # Full of requests under way: the newcomer is told to come back.
    slow = (
        f"GET /phone-system/number-pools?locationId={LOCATION} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"
        "\r\nX-Lcphone-Fault: latencyMs=1000\r\n\r\n"
    )
    busy = [socket.create_connection((host, port), timeout=5) for _ in range(20)]
    try:
        for connection in busy:
            connection.sendall(slow.encode())
        time.sleep(0.3)
        with socket.create_connection((host, port), timeout=5) as extra:
            answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503") and b"Too many open connections" in answer
    finally:
        for connection in busy:
            connection.close()


def test_the_access_log_prints_a_line_per_request(serve) -> None:
    served = serve("--access-log")
    httpx.get(f"{served.base_url}/phone-system/numbers/location/{LOCATION}", headers=auth(TOKEN))
    _, out, _ = served.stop()
    assert re.search(r'"GET /phone-system/numbers/location/tDtDnQdgm2LXpyiqYvZ6 HTTP/1.1" 200', out), out


def test_listening_on_every_interface_shows_an_address_a_client_can_use(serve) -> None:
    served = serve("--host", "0.0.0.0")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.base_url)
    key = served.value("admin key").split()[0]
    assert httpx.get(f"{served.base_url}/__admin/health", headers={"X-Admin-Key": key}).status_code == 200


@pytest.mark.parametrize("key", ["", " "])
def test_an_empty_admin_key_stops_the_command(tmp_path: Path, key: str) -> None:
    with pytest.raises(RuntimeError, match="is empty"):
        ServeProcess("--host", "0.0.0.0", "--admin-key", key, timeout=20)
