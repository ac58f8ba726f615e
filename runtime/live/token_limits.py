"""Per-device token buckets for `runtime token-server`.

Default: a bucket of 10 that refills one token a minute (60 an hour). A device reconnects each agent's session
about every ten minutes (the Live service's connection lifetime), 6 tokens an hour per agent: a device with three
agents spends 18 an hour and never waits. After a network loss every agent of the device reconnects at once and
may retry a few times before one connection holds: the 10 in the bucket cover that burst. A stolen credential
yields at most 10 tokens at once and one a minute after that.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_BURST = 10
DEFAULT_PER_MINUTE = 1.0


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`take(key)` → 0 when allowed, else the whole seconds to wait (for `Retry-After`)."""

    def __init__(self, burst: int = DEFAULT_BURST, per_minute: float = DEFAULT_PER_MINUTE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("a rate limit needs a burst of at least 1 and a positive rate")
        self.burst = burst
        self.per_second = per_minute / 60.0
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> int:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.per_second)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.per_second))
