"""Fixtures of lcphone's own tests: a fresh sandbox per test, and clients over HTTP (ASGI, no socket).

What the tests share beyond fixtures (names of the default scenario, the API helper, the purchase-body
builder) is in `helpers.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from helpers import Api, assert_conforms
from mockserver import Sandbox
from mockserver.http.transport import SyncASGITransport
from mockserver.serve.process import ServeProcess
from postgres_cluster import Cluster, NoPostgres

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


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster (one per test process); skipped, saying why, where none can be started."""
    try:
        cluster = Cluster.find()
    except NoPostgres as why:
        pytest.skip(str(why))
    cluster.init().start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """A sandbox of its own on the test cluster: a new schema (lcphone creates it), as in a shared database."""
    return f"{postgres_cluster.url()}?options=-csearch_path%3Dt_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "postgresql"])
def persistent_state(request: pytest.FixtureRequest, tmp_path) -> str:
    """A --state value for each persistent store: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    return request.getfixturevalue("postgres_url")
