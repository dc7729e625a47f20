"""Requests/s, latency and server CPU per request of every server on every operation, from one run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from operations import OPERATIONS, PURCHASE_SCRIPT, Operation, purchase_bodies, write_bodies
from peers import Running
from tools import LoadResult, wrk

WARM_UP_PURCHASES = 12_000
RUN_PURCHASES = 45_000


class PurchaseBodies:
    """Files of purchase bodies for wrk's script: one set for the warm-up, another for the run (each number is
    bought once on a fresh sandbox)."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="lcphone-bench-")
        bodies = purchase_bodies(WARM_UP_PURCHASES + RUN_PURCHASES)
        folder = Path(self._folder.name)
        self.warm_up = write_bodies(folder / "warm-up.txt", bodies[:WARM_UP_PURCHASES])
        self.run = write_bodies(folder / "run.txt", bodies[WARM_UP_PURCHASES:])

    def close(self) -> None:
        self._folder.cleanup()


def load(running: Running, operation: Operation, seconds: float, bodies: PurchaseBodies) -> LoadResult:
    url = running.base_url + operation.path
    headers = operation.request_headers
    if operation.method == "POST":
        return wrk(
            url,
            seconds,
            headers,
            running.server.pid,
            script=PURCHASE_SCRIPT,
            env={"LCPHONE_BODIES": str(bodies.run)},
            warm_env={"LCPHONE_BODIES": str(bodies.warm_up)},
        )
    return wrk(url, seconds, headers, running.server.pid)


def load_all(
    running: Running, seconds: float, bodies: PurchaseBodies, operations: list[Operation] | None = None
) -> dict[str, LoadResult]:
    """Each operation in turn on one server; purchase last (the state it changes does not touch the others)."""
    chosen = operations or OPERATIONS
    ordered = [op for op in chosen if op.method != "POST"] + [op for op in chosen if op.method == "POST"]
    return {operation.key: load(running, operation, seconds, bodies) for operation in ordered}
