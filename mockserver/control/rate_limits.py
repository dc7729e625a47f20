"""Rate-limit accounting like the real service: a burst window and a daily quota per app and location.

Every answer carries the counters as `X-RateLimit-*` headers; enforcement (429
past the limit) is off unless asked for, so that exploring and test suites are
never throttled.

Counters are kept per worker process (the policy itself is in the store), and
their number is bounded: past `capacity`, counters idle for longer than their
window are forgotten first, then the least recently used.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


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
    window_start: float
    window_count: int
    day: int
    day_count: int


@dataclass(slots=True)  # made for every request: not frozen, which costs three times as much to build
class RateLimitVerdict:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


class RateLimiter:
    def __init__(
        self, policy: RateLimitPolicy | None = None, clock: Callable[[], float] = time.monotonic, capacity: int = 10_000
    ) -> None:
        self.policy = policy or RateLimitPolicy()
        self._clock = clock
        self.capacity = capacity
        self._counters: OrderedDict[tuple[str, str], _Counter] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counters)

    def _make_room(self, now: float, window: float) -> None:
        counters = self._counters
        if len(counters) < self.capacity:
            return
        for key in [key for key, counter in counters.items() if now - counter.window_start >= window]:
            del counters[key]
        while len(counters) >= self.capacity:
            counters.popitem(last=False)

    def configure(self, policy: RateLimitPolicy) -> None:
        with self._lock:
            self.policy = policy
            self._counters.clear()

    def hit(self, app: str, location: str) -> RateLimitVerdict:
        """Counts one request of `app` on `location` and says whether it may proceed."""
        policy = self.policy
        now = self._clock()
        day = int(time.time() // 86_400)
        window = policy.window_ms / 1000
        with self._lock:
            key = (app, location)
            counter = self._counters.get(key)
            if counter is None:
                self._make_room(now, window)
                counter = self._counters[key] = _Counter(now, 0, day, 0)
            else:
                self._counters.move_to_end(key)
            if now - counter.window_start >= window:
                counter.window_start, counter.window_count = now, 0
            if counter.day != day:
                counter.day, counter.day_count = day, 0
            over = counter.window_count >= policy.burst or counter.day_count >= policy.daily
            allowed = not (policy.enforce and over)
            if allowed:
                counter.window_count += 1
                counter.day_count += 1
            retry_after = 0
            if not allowed:
                if counter.day_count >= policy.daily:
                    retry_after = max(1, math.ceil((day + 1) * 86_400 - time.time()))
                else:
                    retry_after = max(1, math.ceil(counter.window_start + window - now))
            daily, interval, burst = _policy_texts(policy)
            headers = {
                "X-RateLimit-Limit-Daily": daily,
                "X-RateLimit-Daily-Remaining": str(max(0, policy.daily - counter.day_count)),
                "X-RateLimit-Interval-Milliseconds": interval,
                "X-RateLimit-Max": burst,
                "X-RateLimit-Remaining": str(max(0, policy.burst - counter.window_count)),
            }
            if not allowed:
                headers["Retry-After"] = str(retry_after)
        return RateLimitVerdict(allowed, headers, retry_after)
