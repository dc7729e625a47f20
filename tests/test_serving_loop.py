"""How `lcphone serve` takes in its connections: the event loop it runs, and answers sent without delay."""

from __future__ import annotations

import argparse
import asyncio
import socket

import pytest

from mockserver.serve.command import _bind, _loop_factory, _uvicorn_options

LOOPS = [pytest.param(asyncio.new_event_loop, id="asyncio")]
try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux and macOS
    pass
else:
    LOOPS.append(pytest.param(uvloop.new_event_loop, id="uvloop"))


@pytest.mark.parametrize("new_loop", LOOPS)
def test_each_accepted_connection_sends_without_waiting_for_acks(new_loop) -> None:
    """Nagle's algorithm would hold an answer's body behind its headers until the client's delayed ACK (40 ms a
    request): asyncio turns it off only on sockets made as TCP sockets, which the listening socket now is."""
    listening = _bind("127.0.0.1", 0)

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[int] = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await loop.create_server(Probe, sock=listening)
        _, writer = await asyncio.open_connection(*listening.getsockname())
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()

    loop = new_loop()
    try:
        assert loop.run_until_complete(accepted_nodelay()) != 0
    finally:
        loop.close()


def options_for(state: str | None) -> dict:
    return _uvicorn_options(argparse.Namespace(access_log=False, keep_alive_timeout=5, state=state))


def test_a_postgresql_sandbox_runs_asyncio_loop_and_the_others_the_fastest_installed() -> None:
    """uvloop takes in one new connection per turn of its loop; where each request waits on a database across the
    network, the last of a burst of new connections waited hundreds of ms (D50)."""
    assert _loop_factory(waits_on_network=True) is None  # asyncio's own
    assert options_for("postgresql://lcphone@db/sandbox")["loop"] == "asyncio"  # each worker's too
    assert options_for("postgres://db/sandbox")["loop"] == "asyncio"
    for state in (None, "sandbox.db"):
        assert options_for(state)["loop"] == "auto"
    if len(LOOPS) > 1:
        assert _loop_factory() is uvloop.new_event_loop
