"""Fixtures of lcphone's own tests: a fresh sandbox per test, and clients over HTTP (ASGI, no socket).

What the tests share beyond fixtures (names of the default scenario, the API helper, the purchase-body
builder) is in `helpers.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from helpers import Api, assert_conforms
from mockserver import Sandbox
from mockserver.serve_process import ServeProcess
from mockserver.transport import SyncASGITransport

pytest_plugins = ["pytester"]


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A raw HTTP client on the sandbox (in-process); every API answer is checked against the contract."""
    transport = SyncASGITransport(sandbox.app)
    with httpx.Client(
        transport=transport, base_url="http://sandbox", event_hooks={"response": [assert_conforms]}
    ) as client:
        yield client
    assert not sandbox.crashes, f"the sandbox crashed: {sandbox.crashes!r}"


@pytest.fixture
def raw_http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """An HTTP client on the sandbox whose answers are not checked (for faults, which break the contract on purpose)."""
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        yield client


@pytest.fixture
def api(http: httpx.Client) -> Api:
    return Api(http)


@pytest.fixture
def serve() -> Iterator[Callable[..., ServeProcess]]:
    """Starts `lcphone serve --port 0 ARGS...` in a separate process; stopped after the test."""
    started: list[ServeProcess] = []

    def start(*args: str, **kwargs) -> ServeProcess:
        started.append(ServeProcess(*args, **kwargs))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.process.communicate()
