"""What `lcphone proxy` adds to an exchange: the same requests, one at a time on a kept-alive connection, straight
to a target (`lcphone serve`) and through the proxy in front of it, interleaved in rounds so that both see the
same machine. Also the proxy's own CPU time per exchange (forwarding, both checks, the journal)."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from mockserver.serve.process import ServeProcess

TARGET_ADDED_P50_MS = 2.0


@dataclass
class Latency:
    operation: str
    direct_p50: float
    proxied_p50: float
    direct_p99: float
    proxied_p99: float
    proxy_cpu_ms: float  # the proxy process's CPU time per exchange

    @property
    def added_p50(self) -> float:
        return self.proxied_p50 - self.direct_p50


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(client: httpx.Client, path: str, params: dict, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    return times


def measure(requests: int, rounds: int = 5) -> list[Latency]:
    with ServeProcess() as target:
        token, location = target.value("token"), target.value("location id")
        headers = {"Authorization": f"Bearer {token}", "Version": "v3"}
        cases = {
            "list": (f"/phone-system/numbers/location/{location}", {}),
            "search": (
                f"/phone-system/numbers/location/{location}/available",
                {
                    "firstPart": "",
                    "lastPart": "",
                    "anywhere": "",
                    "numberTypes": "local",
                    "smsEnabled": "false",
                    "mmsEnabled": "false",
                    "voiceEnabled": "false",
                    "countryCode": "US",
                },
            ),
        }
        with ServeProcess("--target", target.base_url, command="proxy") as proxy:
            pid = proxy.process.pid
            found = []
            with (
                httpx.Client(base_url=target.base_url, headers=headers) as direct,
                httpx.Client(base_url=proxy.base_url, headers=headers) as proxied,
            ):
                for name, (path, params) in cases.items():
                    _timed(direct, path, params, 20), _timed(proxied, path, params, 20)  # warm both
                    straight, through, cpu = [], [], 0.0
                    for _ in range(rounds):
                        straight += _timed(direct, path, params, requests // rounds)
                        before = _cpu_seconds(pid)
                        through += _timed(proxied, path, params, requests // rounds)
                        cpu += _cpu_seconds(pid) - before
                    quantiles = lambda values: statistics.quantiles(values, n=100)
                    found.append(
                        Latency(
                            name,
                            statistics.median(straight),
                            statistics.median(through),
                            quantiles(straight)[98],
                            quantiles(through)[98],
                            cpu / len(through) * 1000,
                        )
                    )
        return found
