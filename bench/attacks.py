"""Known attacks on `lcphone serve`, replayable, bounded in time and size, loopback only.

Used in a short form by `tests/test_reliability.py` (which asserts the outcome) and in full by `bench/run.py`
(which writes the figures, with a soak of mixed and hostile traffic, to `bench/results.md`). Each attack runs
while a canary client keeps asking for a health check and an active-number list: the answer must keep coming,
the server's memory must stay bounded, and every purchase acknowledged with a 201 must be listed afterwards.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TOKEN = "pit-acme-full-access-0000000001"
LOCATION = "tDtDnQdgm2LXpyiqYvZ6"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Version": "v3"}


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (workers), from /proc."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().split(") ")[1].split()
            if int(entry.name) != pid and int(fields[1]) != pid:
                continue
            total += int(fields[21]) * 4096  # rss pages
        except (OSError, IndexError, ValueError):
            continue
    return total / (1024 * 1024)


@dataclass
class Canary:
    """A client that keeps asking, and remembers how long the slowest answer took and what went wrong."""

    base_url: str
    interval: float = 0.05
    slowest: float = 0.0
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    response = client.get(f"/phone-system/numbers/location/{LOCATION}", headers=HEADERS)
                    if response.status_code != 200:
                        self.failures.append(f"status {response.status_code}")
                    self.answered += 1
                except httpx.HTTPError as error:
                    self.failures.append(f"{type(error).__name__}: {error}")
                self.slowest = max(self.slowest, time.perf_counter() - started)
                self._stop.wait(self.interval)

    def __enter__(self) -> Canary:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(15)


@dataclass
class Outcome:
    name: str
    requests: int
    seconds: float
    rss_before: float
    rss_after: float
    slowest_canary: float
    canary_failures: list[str]

    @property
    def rss_growth(self) -> float:
        return self.rss_after - self.rss_before


def _many(base_url: str, count: int, request: Callable[[httpx.Client, int], None], clients: int = 8) -> None:
    def work(offset: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for i in range(offset, count, clients):
                try:
                    request(client, i)
                except httpx.HTTPError:
                    pass

    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def unauthenticated_location_flood(base_url: str, count: int) -> int:
    """Distinct location ids without a valid token: each once made a rate-limit counter that was never dropped."""
    _many(
        base_url,
        count,
        lambda c, i: c.get(f"/phone-system/numbers/location/L{i:019d}", headers={"Authorization": "Bearer nobody"}),
    )
    return count


def huge_ids(base_url: str, count: int, size: int = 60_000) -> int:
    """60 KB location ids: each once filled the journal with a 60 KB path and a message repeating it."""
    _many(base_url, count, lambda c, i: c.get(f"/phone-system/numbers/location/{'x' * size}{i}", headers=HEADERS))
    return count


def alias_bombs(base_url: str, count: int) -> int:
    """A 500-byte YAML alias bomb posted as a scenario: once a 258 MB answer and a stall."""
    bomb = (
        "name: bomb\na: &a ["
        + ", ".join(["lol"] * 9)
        + "]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))
    )
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(count):
            client.post("/__admin/scenario", content=bomb, headers={"Content-Type": "application/yaml"})
    return count


def idle_connections(base_url: str, count: int, hold: float) -> int:
    """Connections that never send a request (and one byte-at-a-time request), held open for `hold` seconds."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    opened = []
    try:
        for _ in range(count):
            try:
                opened.append(socket.create_connection((host, int(port)), timeout=5))
            except OSError:
                break
        slow = opened[-1] if opened else None
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            if slow is not None:
                try:
                    slow.sendall(b"G")
                except OSError:
                    slow = None
            time.sleep(0.5)
    finally:
        for connection in opened:
            connection.close()
    return len(opened)


def racing_purchases(base_url: str, buyers: int) -> tuple[set[str], int]:
    """Buyers racing for the same few numbers: what was acknowledged (201), and how many requests were made."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        found = client.get(
            f"/phone-system/numbers/location/{LOCATION}/available",
            headers=HEADERS,
            params={
                "firstPart": "",
                "lastPart": "",
                "anywhere": "",
                "numberTypes": "local",
                "smsEnabled": "false",
                "mmsEnabled": "false",
                "voiceEnabled": "false",
                "countryCode": "US",
            },
        ).json()
    targets = [n["phoneNumber"] for n in found["numbers"][:5]]
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def buy(client: httpx.Client, i: int) -> None:
        number = targets[i % len(targets)]
        body = {
            "phoneNumber": number,
            "addressSid": "",
            "bundleSid": "",
            "countryCode": "US",
            "numberType": "local",
            "paymentIntentId": "pi",
            "stripeAccountId": "acct",
            "paymentMethodId": "pm",
            "locality": "",
            "region": "",
            "fingerprintId": f"race-{i}",
            "skipLocationKYC": False,
        }
        response = client.post(f"/phone-system/numbers/location/{LOCATION}/purchase", json=body, headers=HEADERS)
        if response.status_code == 201:
            with lock:
                acknowledged.add(number)

    _many(base_url, buyers, buy)
    return acknowledged, buyers


def listed(base_url: str) -> set[str]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.get(
            f"/phone-system/numbers/location/{LOCATION}",
            headers=HEADERS,
            params={"pageSize": 1000, "skipNumberPool": "false"},
        )
        return {n["phoneNumber"] for n in response.json()["data"]["numbers"]}


def attack(name: str, pid: int, base_url: str, run: Callable[[], int]) -> Outcome:
    """Runs one attack under a canary, measuring the server's memory before and after."""
    before = rss_mib(pid)
    started = time.perf_counter()
    with Canary(base_url) as canary:
        requests = run()
    return Outcome(name, requests, time.perf_counter() - started, before, rss_mib(pid), canary.slowest, canary.failures)


def settled(pid: int, base_url: str, timeout: float = 30.0) -> float:
    """The server's memory once it has finished starting (workers start after the banner): stable for 0.5 s."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=10) as client:
        last = -1.0
        while time.monotonic() < deadline:
            for _ in range(8):  # a request for each worker, likely
                client.get(f"/phone-system/numbers/location/{LOCATION}", headers=HEADERS)
            now = rss_mib(pid)
            if abs(now - last) < 1.0:
                return now
            last = now
            time.sleep(0.5)
    return last


def replay(pid: int, base_url: str, scale: float = 1.0, hold: float = 3.0) -> tuple[list[Outcome], set[str], set[str]]:
    """Every attack in turn (once the server has settled); then what was acknowledged and what is listed."""
    settled(pid, base_url)
    outcomes = [
        attack(
            "unauthenticated ids", pid, base_url, lambda: unauthenticated_location_flood(base_url, int(20_000 * scale))
        ),
        attack("60 KB ids", pid, base_url, lambda: huge_ids(base_url, int(2_000 * scale))),
        attack("YAML alias bombs", pid, base_url, lambda: alias_bombs(base_url, max(2, int(10 * scale)))),
        attack("idle connections", pid, base_url, lambda: idle_connections(base_url, int(400 * scale), hold)),
    ]
    acknowledged: set[str] = set()

    def race() -> int:
        bought, count = racing_purchases(base_url, int(200 * scale))
        acknowledged.update(bought)
        return count

    outcomes.append(attack("racing buyers", pid, base_url, race))
    return outcomes, acknowledged, listed(base_url)


def soak(pid: int, base_url: str, seconds: float, sample_every: float = 10.0) -> list[tuple[float, float]]:
    """Mixed and hostile traffic for `seconds`: (elapsed seconds, RSS MiB) every `sample_every` seconds."""
    samples = [(0.0, rss_mib(pid))]
    started = time.monotonic()
    stop = threading.Event()

    def traffic() -> None:
        round_ = 0
        while not stop.is_set():
            round_ += 1
            unauthenticated_location_flood(base_url, 500)
            huge_ids(base_url, 50)
            alias_bombs(base_url, 1)
            _many(base_url, 200, lambda c, i: c.get(f"/phone-system/numbers/location/{LOCATION}", headers=HEADERS))

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(sample_every, seconds - elapsed))
        samples.append((round(time.monotonic() - started, 1), rss_mib(pid)))
    stop.set()
    worker.join(60)
    return samples
