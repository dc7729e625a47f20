"""Group commit: the transactions of one turn of the event loop, committed together.

A database store commits each transaction the moment it ends, unless it ends inside `grouped()` on an event
loop (a request the gateway serves): then it joins the turn's `CommitGroup`, which commits once the requests
ready in that turn have run (`loop.call_soon`). Every request whose answer depends on the group's changes (it
wrote, or it read while they were not committed) awaits the group before it answers: a purchase is still
committed before its 201, and no answer shows what is not committed. A failed group fails every request that
waits on it (503, nothing acknowledged), and the groups after it, which were decided on top of it.
"""

from __future__ import annotations

import asyncio
import threading

from ..errors import StoreUnavailable


class CommitGroup:
    """The transactions committed together, and the requests waiting on their commit (each with a future of
    its own, on its own event loop, so that one cancelled request cancels no one else's wait)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()  # the thread of the event loop whose turn it is
        self.transactions = 0
        self.statements: list[str] = []  # what a store sends at the commit, where it sends SQL (PostgreSQL)
        self.last_position = 0  # the number of its last change
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._outcome: tuple[StoreUnavailable | None] | None = None  # set once settled
        self._lock = threading.Lock()

    @property
    def settled(self) -> bool:
        return self._outcome is not None

    def waiter(self) -> asyncio.Future[None]:
        """A future on the running event loop, done when the group is settled (at once if it is)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        future.add_done_callback(_retrieved)  # a request that crashed before awaiting it logs no "never retrieved"
        with self._lock:
            if self._outcome is None:
                self._waiters.append((loop, future))
                return future
            error = self._outcome[0]
        _resolve(future, error)
        return future

    def settle(self, error: StoreUnavailable | None = None) -> None:
        """Committed (`error` None) or failed; from any thread. Only the first call counts."""
        with self._lock:
            if self._outcome is not None:
                return
            self._outcome = (error,)
            waiters, self._waiters = self._waiters, []
        running = running_loop()
        for loop, future in waiters:
            if loop is running:
                _resolve(future, error)
            else:
                try:
                    loop.call_soon_threadsafe(_resolve, future, error)
                except RuntimeError:
                    pass  # that loop is closed: no one waits there any more


def _resolve(future: asyncio.Future[None], error: StoreUnavailable | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        # Each waiter raises its own copy: one answered error's traceback is not another's.
        future.set_exception(StoreUnavailable(error.detail, int(error.headers.get("Retry-After", "1"))))


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
