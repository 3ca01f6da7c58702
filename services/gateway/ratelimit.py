"""Rate limits per credential and per client address, counted by GCRA (shared/counters.py).

With REDIS_URL every replica counts in Redis, so N replicas together allow the configured limit, not N times it;
without it, or while Redis is down, each replica counts in its own memory. The answer carries RateLimit-Limit,
RateLimit-Remaining and RateLimit-Reset (IETF draft "RateLimit header fields for HTTP"), and a 429 with Retry-After
once the budget is spent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.counters import Counters, RateDecision
from shared.errors import TooManyRequests


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: int  # seconds until the whole budget is available again
    retry_after: int  # seconds until one more request is allowed
    exceeded: bool = False

    @classmethod
    def of(cls, limit: int, decision: RateDecision) -> Quota:
        return cls(
            limit,
            decision.remaining,
            max(1, math.ceil(decision.reset_after)),
            max(1, math.ceil(decision.retry_after)),
            not decision.allowed,
        )

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(self.reset),
        }

    def refusal(self) -> TooManyRequests:
        return TooManyRequests(
            f"Rate limit of {self.limit} requests per window exceeded; retry in {self.retry_after} s",
            headers={**self.headers(), "Retry-After": str(self.retry_after)},
        )


class RateLimiter:
    """`limit` requests per `window` seconds per key, on the service's counters."""

    def __init__(self, counters: Counters, window: float) -> None:
        self.counters = counters
        self.window = window

    async def hit(self, key: str, limit: int) -> Quota:
        """Count one request; the quota says whether it was within the limit (a refused one is not counted)."""
        return Quota.of(limit, await self.counters.rate(key, limit, self.window, 1))

    async def peek(self, key: str, limit: int) -> Quota:
        return Quota.of(limit, await self.counters.rate(key, limit, self.window, 0))
