"""Rate limits: fixed windows counted in memory, per credential and per client address.

Each gateway replica counts on its own, so with N replicas behind a balancer a client may make up to N times the
configured limit; the limits are a guard against runaway clients, not an exact quota. The answer carries
RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (IETF draft "RateLimit header fields for HTTP"), and a
429 with Retry-After once the window's budget is spent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import TooManyRequests


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(self.reset),
        }

    def refusal(self) -> TooManyRequests:
        return TooManyRequests(
            f"Rate limit of {self.limit} requests per window exceeded; retry in {self.reset} s",
            headers={**self.headers(), "Retry-After": str(self.reset)},
        )


class RateLimiter:
    """Counts requests per key in fixed windows; keeps at most max_keys keys (the oldest windows go first)."""

    def __init__(self, window: float, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._counts: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, limit: int) -> Quota:
        """Count one request; the quota says whether it is within the limit."""
        return self._account(key, limit, 1)

    def peek(self, key: str, limit: int) -> Quota:
        return self._account(key, limit, 0)

    def _account(self, key: str, limit: int, cost: int) -> Quota:
        now = self._clock()
        started, count = self._counts.get(key, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        count += cost
        if cost:
            # Re-inserting keeps the dict ordered by last use, so trimming drops the stalest keys.
            self._counts.pop(key, None)
            self._counts[key] = (started, count)
            while len(self._counts) > self.max_keys:
                del self._counts[next(iter(self._counts))]
        reset = max(1, math.ceil(started + self.window - now))
        return Quota(limit, limit - count, reset)
