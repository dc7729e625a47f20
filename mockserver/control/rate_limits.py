"""Rate-limit accounting like the real service: a burst window per token, a daily quota per location.

The vendor counts a private integration's burst per token, and all tokens of a location share one daily counter
(DECISIONS.md, D22). Every answer carries the counters as `X-RateLimit-*` headers; enforcement (429 past the
limit) is off unless asked for, so that exploring and test suites are never throttled. A request without a
token the sandbox knows is never counted (it is a 401 whatever the counters say), so that no client can spend
the budget of others by sending made-up tokens.

Where the answer depends on the counts (enforced) and the store is shared by several processes (workers on one
SQLite file, replicas on one PostgreSQL database), the counters are the store's, so that a limit is one limit
whichever process serves the request. Otherwise they are kept in this process, bounded: past `capacity`,
counters idle for longer than their window are forgotten first, then the least recently used.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..domain.store import Store

DAY = 86_400


@dataclass(frozen=True)
class RateLimitPolicy:
    burst: int = 100
    window_ms: int = 10_000
    daily: int = 200_000
    enforce: bool = False


@functools.lru_cache(maxsize=8)
def _policy_texts(policy: RateLimitPolicy) -> tuple[str, str, str]:
    """The headers that only the policy decides, written once."""
    return str(policy.daily), str(policy.window_ms), str(policy.burst)


@dataclass
class _Counter:
    started: float  # the window's start (burst), the day's number (daily)
    count: int


@dataclass(slots=True)  # made for every request: not frozen, which costs three times as much to build
class RateLimitVerdict:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


def _headers(policy: RateLimitPolicy, window_count: int, day_count: int) -> dict[str, str]:
    daily, interval, burst = _policy_texts(policy)
    return {
        "X-RateLimit-Limit-Daily": daily,
        "X-RateLimit-Daily-Remaining": str(max(0, policy.daily - day_count)),
        "X-RateLimit-Interval-Milliseconds": interval,
        "X-RateLimit-Max": burst,
        "X-RateLimit-Remaining": str(max(0, policy.burst - window_count)),
    }


class RateLimiter:
    def __init__(
        self,
        policy: RateLimitPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 10_000,
        store: Store | None = None,
    ) -> None:
        """`store`: where the counters are kept while the limits are enforced (a store shared by processes)."""
        self.policy = policy or RateLimitPolicy()
        self._clock = clock
        self.capacity = capacity
        self.store = store
        self._counters: OrderedDict[tuple[str, str], _Counter] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counters)

    def _make_room(self, now: float, window: float) -> None:
        counters = self._counters
        if len(counters) < self.capacity:
            return
        today = int(time.time() // DAY)
        for key in [
            key
            for key, counter in counters.items()
            if (now - counter.started >= window if key[0] == "burst" else counter.started != today)
        ]:
            del counters[key]
        while len(counters) >= self.capacity:
            counters.popitem(last=False)

    def configure(self, policy: RateLimitPolicy) -> None:
        with self._lock:
            self.policy = policy
            self._counters.clear()

    def hit(self, token: str | None, location: str | None) -> RateLimitVerdict:
        """Counts one request made with `token` (on its location's daily quota) and says whether it may proceed.
        Without a known token, nothing is counted: the full budget is shown, and the request goes on (to its 401)."""
        policy = self.policy
        if token is None:
            return RateLimitVerdict(True, _headers(policy, 0, 0))
        daily_key = location or f"token {token}"  # a token of no location: a daily quota of its own
        if policy.enforce and self.store is not None:
            return self._hit_shared(policy, token, daily_key)
        now = self._clock()
        day = int(time.time() // DAY)
        window = policy.window_ms / 1000
        with self._lock:
            burst = self._counter(("burst", token), now, window)
            daily = self._counter(("daily", daily_key), now, window, day)
            if now - burst.started >= window:
                burst.started, burst.count = now, 0
            if daily.started != day:
                daily.started, daily.count = day, 0
            over = burst.count >= policy.burst or daily.count >= policy.daily
            allowed = not (policy.enforce and over)
            if allowed:
                burst.count += 1
                daily.count += 1
            retry_after = 0
            if not allowed:
                if daily.count >= policy.daily:
                    retry_after = max(1, math.ceil((day + 1) * DAY - time.time()))
                else:
                    retry_after = max(1, math.ceil(burst.started + window - now))
            headers = _headers(policy, burst.count, daily.count)
        return self._verdict(allowed, headers, retry_after)

    def _counter(self, key: tuple[str, str], now: float, window: float, started: float | None = None) -> _Counter:
        counter = self._counters.get(key)
        if counter is None:
            self._make_room(now, window)
            counter = self._counters[key] = _Counter(now if started is None else started, 0)
        else:
            self._counters.move_to_end(key)
        return counter

    def _hit_shared(self, policy: RateLimitPolicy, token: str, daily_key: str) -> RateLimitVerdict:
        """The counts of every process sharing the store: each one atomic statement there (a refused request is
        counted in its window, which changes nothing: the window refuses until it ends)."""
        assert self.store is not None
        now = time.time()
        window = policy.window_ms / 1000
        started, window_count = self.store.count_request(f"burst {token}", now, now, window)
        if window_count > policy.burst:
            headers = _headers(policy, window_count, self.store.requests_counted(f"daily {daily_key}", now, DAY))
            return self._verdict(False, headers, max(1, math.ceil(started + window - now)))
        day_start = (now // DAY) * DAY
        _, day_count = self.store.count_request(f"daily {daily_key}", day_start, now, DAY)
        if day_count > policy.daily:
            return self._verdict(
                False, _headers(policy, window_count, day_count), max(1, math.ceil(day_start + DAY - now))
            )
        return self._verdict(True, _headers(policy, window_count, day_count))

    @staticmethod
    def _verdict(allowed: bool, headers: dict[str, str], retry_after: int = 0) -> RateLimitVerdict:
        if not allowed:
            headers["Retry-After"] = str(retry_after)
        return RateLimitVerdict(allowed, headers, retry_after)
