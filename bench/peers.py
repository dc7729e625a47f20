"""The servers the benchmarks compare, each started the same way: one process (one worker), loopback, its
own session (so that its CPU time can be read), stopped whole. Each yields its base URL and process."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from operations import BY_KEY, INVENTORY, SCENARIO, SEED
from stubs import MAPPINGS, MOCKOON
from tools import Background, ensure_npm_tool, free_port, wait_for

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONTRACTS = {"v3": ROOT / "contracts" / "lc-phone-v3.openapi.yaml",
             "2021-07-28": ROOT / "contracts" / "lc-phone-2021-07-28.openapi.yaml"}  # fmt: skip


@dataclass
class Running:
    name: str
    base_url: str
    server: Background


def _ready(name: str, server: Background, port: int, path: str = "/__admin/health", **headers: str) -> Running:
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(base_url + path, headers or None)
    except RuntimeError:
        server.stop()
        raise
    return Running(name, base_url, server)


def _probe_headers(key: str = "list") -> dict[str, str]:
    return BY_KEY[key].request_headers


@contextmanager
def lcphone(state: str | None = None, source: Path | None = None, workers: int = 1) -> Iterator[Running]:
    """`lcphone serve` as a user runs it: the bench scenario, a 120,000-number inventory, every request
    validated, journaled and rate-limit counted; state in memory unless `state` is given. `source`: the lcphone
    of another checkout (an earlier commit, for a before-and-after)."""
    port = free_port()
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port), "--seed", str(SEED),
               "--scenario", str(SCENARIO), "--inventory", str(INVENTORY)]  # fmt: skip
    if state:
        command += ["--state", state]
    if workers > 1:
        command += ["--workers", str(workers)]
    environment = {"PYTHONPATH": str(source)} if source else None
    with Background(command, env=environment, cwd=source) as server:
        yield _ready("lcphone", server, port)


@contextmanager
def ceiling() -> Iterator[Running]:
    """The same server stack (uvicorn, uvloop, httptools, Starlette) answering lcphone's bytes, doing nothing else."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "ceiling_app:app", "--port", str(port), "--loop", "uvloop",
               "--http", "httptools", "--lifespan", "off", "--no-access-log", "--log-level", "warning",
               "--no-server-header"]  # fmt: skip
    with Background(command, cwd=HERE) as server:
        yield _ready("ceiling", server, port, BY_KEY["list"].path, **_probe_headers())


@contextmanager
def prism(version: str = "v3") -> Iterator[Running]:
    """Stoplight Prism mocking our contract of `version` (static examples, requests validated)."""
    binary = ensure_npm_tool("prism")
    if binary is None:
        raise LookupError("Prism could not be installed (npm is missing)")
    port = free_port()
    with Background([str(binary), "mock", str(CONTRACTS[version]), "-p", str(port), "-v", "error"]) as server:
        yield _ready("prism", server, port, BY_KEY["list"].path, **{**_probe_headers(), "Version": version})


@contextmanager
def wiremock() -> Iterator[Running]:
    """WireMock standalone (its bundled 3.x jar), with one mapping per request and a bounded request journal."""
    binary = ensure_npm_tool("wiremock")
    if binary is None:
        raise LookupError("WireMock could not be installed (npm or Java is missing)")
    port = free_port()
    command = [str(binary), "--port", str(port), "--root-dir", str(MAPPINGS.parent), "--disable-banner",
               "--max-request-journal-entries", "10000"]  # fmt: skip
    with Background(command) as server:
        yield _ready("wiremock", server, port, BY_KEY["list"].path, **_probe_headers())


@contextmanager
def mockoon() -> Iterator[Running]:
    """Mockoon's CLI serving an environment with one route per path and a response per version."""
    binary = ensure_npm_tool("mockoon")
    if binary is None:
        raise LookupError("Mockoon's CLI could not be installed (npm is missing)")
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        command = [str(binary), "start", "--data", str(MOCKOON), "--port", str(port), "--disable-log-to-file"]
        with Background(command, env={"HOME": home}) as server:
            yield _ready("mockoon", server, port, BY_KEY["list"].path, **_probe_headers())


PEERS = {"ceiling": ceiling, "prism": prism, "wiremock": wiremock, "mockoon": mockoon}
