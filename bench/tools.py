"""What the benchmarks run: servers in the background, the load generator, and the peers' installs.

Peers come from the npm registry into bench/.tools (Prism, WireMock's bundled jar, Mockoon's CLI); wrk and
Java from the distribution. Each is installed when missing; a peer that cannot be had is left out, saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
TOOLS = HERE / ".tools"
NPM_PACKAGES = {"prism": "@stoplight/prism-cli@5.14.2", "wiremock": "wiremock@3.13.2", "mockoon": "@mockoon/cli@9.9.0"}
BINARIES = {"prism": "prism", "wiremock": "wiremock", "mockoon": "mockoon-cli"}


def apt_install(*packages: str) -> None:
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in ("install", "update"):
        if attempt == "update":
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=environment)
        done = subprocess.run(["apt-get", "install", "-y", "-q", *packages], capture_output=True, env=environment)
        if done.returncode == 0:
            return


def ensure_wrk() -> str | None:
    if shutil.which("wrk") is None:
        apt_install("wrk")
    return shutil.which("wrk")


def ensure_npm_tool(name: str) -> Path | None:
    """A peer from the npm registry, installed into bench/.tools when missing (None where npm is missing)."""
    binary = TOOLS / "node_modules" / ".bin" / BINARIES[name]
    if not binary.exists() and shutil.which("npm"):
        TOOLS.mkdir(exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "--silent", NPM_PACKAGES[name]],
            capture_output=True,
        )
    if name == "wiremock" and shutil.which("java") is None:
        apt_install("default-jre-headless")
        if shutil.which("java") is None:
            return None
    return binary if binary.exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Background:
    """A server process in a session of its own: its CPU time is its whole session's, and it stops whole."""

    def __init__(self, command: list[str], env: dict | None = None, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def session_cpu_seconds(session: int) -> float:
    """User + system CPU seconds of every live process in a session (a server and the workers it started)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session:  # field 6 of stat, the session id (fields here start at field 3)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def wait_for(url: str, headers: dict[str, str] | None = None, timeout: float = 90, method: str = "GET") -> float:
    """Seconds until `url` answers 2xx."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if httpx.request(method, url, headers=headers, timeout=2).is_success:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer 2xx within {timeout} s")


@dataclass
class LoadResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    cpu_us: float  # server CPU time per request served, in microseconds

    @property
    def failed(self) -> bool:
        return self.non_2xx > 0 or self.errors > 0


def wrk(
    url: str,
    seconds: float,
    headers: dict[str, str],
    session: int,
    script: Path | None = None,
    env: dict[str, str] | None = None,
    warm_env: dict[str, str] | None = None,
    connections: int = 32,
    warm_up: float = 2.0,
) -> LoadResult:
    """One wrk run (one thread, `connections` connections) after a warm-up, with the server's CPU per request.
    `env` reaches the script (`warm_env` during the warm-up: other purchase bodies, other numbers)."""
    arguments = ["wrk", "-t1", f"-c{connections}"]
    for name, value in headers.items():
        arguments += ["-H", f"{name}: {value}"]
    if script is not None:
        arguments += ["-s", str(script)]
    subprocess.run(
        [*arguments, f"-d{max(1, round(warm_up))}s", url],
        capture_output=True,
        env={**os.environ, **(warm_env or env or {})},
    )
    cpu_before = session_cpu_seconds(session)
    out = subprocess.run(
        [*arguments, f"-d{round(seconds)}s", "--latency", url],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    ).stdout
    cpu = session_cpu_seconds(session) - cpu_before

    def millis(label: str) -> float:
        found = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        if not found:
            return float("nan")
        value, unit = found.groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    done = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done is None or rate is None:
        raise RuntimeError(f"wrk gave no figures for {url}: {out[-500:]}")
    requests = int(done.group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return LoadResult(
        requests=requests,
        rps=float(rate.group(1)),
        p50_ms=millis("50%"),
        p99_ms=millis("99%"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
        cpu_us=cpu / max(requests, 1) * 1e6,
    )
