"""Counters behind rate limits and failure throttles: in Redis, shared by every replica, or in this process's memory.

Two kinds of counter:
- a rate (GCRA, the generic cell rate algorithm): `limit` requests per `period`, spread evenly, with a burst of up
  to `limit`; one number per key (the theoretical arrival time), so it is exact across replicas;
- a failure backoff: failures per key, forgotten after a quiet spell; from the `free_failures`-th on, each failure
  imposes a wait before the next attempt, doubling each time, up to a ceiling.

With Redis each operation is one Lua script, atomic on the server and timed by the server's clock, so replicas
agree whatever their own clocks say. When Redis cannot be reached the counters fall back to this process's memory
(each replica then enforces the limits on its own), a warning is logged once, `fallbacks` counts the answers given
from memory, and Redis is tried again every `retry_interval` seconds: the first answer it gives ends the fallback.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_KEYS = 100_000
# A rate-limit check sits on every request: a Redis that stops answering must cost little before the fallback.
REDIS_TIMEOUT_SECONDS = 0.25
RETRY_INTERVAL_SECONDS = 1.0
PREPARE_ATTEMPTS = 4

GCRA_SCRIPT = """
local period = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + cost * interval
local diff = now - (new_tat - period)
local retry = tat - now + interval - period
if retry < 0 then retry = 0 end
if diff < 0 then
  return {0, 0, tostring(tat - now), tostring(retry)}
end
if cost > 0 then
  redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.max(1, math.ceil((new_tat - now) * 1000)))
end
return {1, math.floor(diff / interval), tostring(new_tat - now), tostring(retry)}
"""

BACKOFF_SCRIPT = """
local mode = ARGV[1]
if mode == 'clear' then
  redis.call('DEL', KEYS[1])
  return '0'
end
local free = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local ceiling = tonumber(ARGV[4])
local forget = tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'n', 't')
local failures = tonumber(state[1] or '0')
local last = tonumber(state[2] or '0')
local function delay(count)
  if count < free then return 0 end
  return math.min(ceiling, base * 2 ^ math.min(count - free, 64))
end
if mode == 'fail' then
  failures = failures + 1
  last = now
  redis.call('HSET', KEYS[1], 'n', failures, 't', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((delay(failures) + forget) * 1000))
end
local wait = last + delay(failures) - now
if wait < 0 then wait = 0 end
return tostring(wait)
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int
    reset_after: float  # seconds until the whole budget is available again
    retry_after: float  # seconds until one more request is allowed (0 when one is allowed now)


@dataclass(frozen=True)
class BackoffPolicy:
    free_failures: int  # the count of failures at which waits start: that many attempts get no wait before them
    base_delay: float  # the wait after failure number free_failures; doubles with each further failure
    max_delay: float
    forget_after: float  # seconds without a failure after which the count starts again from zero

    def delay(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, self.base_delay * 2.0 ** min(failures - self.free_failures, 64))


def _gcra(tat: float, now: float, limit: int, period: float, cost: int) -> tuple[RateDecision, float | None]:
    """The decision, and the new arrival time to store (None when nothing changes)."""
    interval = period / limit
    tat = max(tat, now)
    new_tat = tat + cost * interval
    diff = now - (new_tat - period)
    retry = max(0.0, tat - now + interval - period)
    if diff < 0:
        return RateDecision(False, 0, tat - now, retry), None
    return RateDecision(True, math.floor(diff / interval), new_tat - now, retry), (new_tat if cost else None)


class MemoryCounters:
    """This process's counters, bounded: past max_keys the least recently used key is dropped."""

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self._clock = clock
        self._arrivals: OrderedDict[str, float] = OrderedDict()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._arrivals) + len(self._failures)

    def rate(self, key: str, limit: int, period: float, cost: int) -> RateDecision:
        now = self._clock()
        decision, new_tat = _gcra(self._arrivals.get(key, now), now, limit, period, cost)
        if new_tat is not None:
            self._store(self._arrivals, key, new_tat)
        return decision

    def backoff(self, key: str, policy: BackoffPolicy, mode: str) -> float:
        now = self._clock()
        if mode == "clear":
            self._failures.pop(key, None)
            return 0.0
        failures, last = self._failures.get(key, (0, now))
        if failures and now - last >= policy.delay(failures) + policy.forget_after:
            failures = 0  # forgotten, as the Redis key would have expired
        if mode == "fail":
            failures, last = failures + 1, now
            self._store(self._failures, key, (failures, last))
        return max(0.0, last + policy.delay(failures) - now) if failures else 0.0

    def _store(self, table: OrderedDict[str, T], key: str, value: T) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.max_keys:
            table.popitem(last=False)


def connect_redis(url: str, timeout: float = REDIS_TIMEOUT_SECONDS) -> redis.Redis:
    """A client that fails fast (no retries, short timeouts): the fallback, not the client, handles outages."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


class Counters:
    """The counters a service uses: Redis when configured and answering, else memory."""

    def __init__(
        self,
        prefix: str,
        *,
        retry_interval: float = RETRY_INTERVAL_SECONDS,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.memory = MemoryCounters(max_keys, clock)
        self.retry_interval = retry_interval
        self._clock = clock
        self._redis: redis.Redis | None = None
        self._gcra: AsyncScript | None = None
        self._backoff: AsyncScript | None = None
        self._retry_at = 0.0
        self.degraded = False
        self.fallbacks = 0

    @property
    def backend(self) -> str:
        return "memory" if self._redis is None else "redis"

    def use_redis(self, client: redis.Redis | None) -> None:
        self._redis = client
        self._gcra = client.register_script(GCRA_SCRIPT) if client is not None else None
        self._backoff = client.register_script(BACKOFF_SCRIPT) if client is not None else None
        self.degraded = False
        self._retry_at = 0.0

    async def prepare(self) -> bool:
        """Connect to Redis and load the scripts before the first request needs them: the first decision would
        otherwise pay for the connection, AUTH and the script load within one short timeout, which a busy host
        can miss (and answer that request from memory). Returns whether Redis answered; failing is not an error."""
        if self._redis is None:
            return False
        for attempt in range(PREPARE_ATTEMPTS):
            try:
                await self._redis.script_load(GCRA_SCRIPT)
                await self._redis.script_load(BACKOFF_SCRIPT)
            except (RedisError, OSError, TimeoutError) as error:
                if attempt + 1 == PREPARE_ATTEMPTS:
                    self._fall_back(error)
                    return False
                await asyncio.sleep(REDIS_TIMEOUT_SECONDS)
            else:
                return True
        return False

    async def rate(self, key: str, limit: int, period: float, cost: int = 1) -> RateDecision:
        async def shared() -> RateDecision:
            assert self._gcra is not None
            allowed, remaining, reset, retry = await self._gcra(
                keys=[f"{self.prefix}rate:{key}"], args=[period, limit, cost]
            )
            return RateDecision(bool(allowed), int(remaining), float(reset), float(retry))

        return await self._shared_or_local(shared, lambda: self.memory.rate(key, limit, period, cost))

    async def failure_wait(self, key: str, policy: BackoffPolicy) -> float:
        """Seconds this key must still wait before its next attempt (0: it may try now)."""
        return await self._backoff_op(key, policy, "check")

    async def record_failure(self, key: str, policy: BackoffPolicy) -> float:
        """Count one failure; returns the wait it imposes."""
        return await self._backoff_op(key, policy, "fail")

    async def clear_failures(self, key: str, policy: BackoffPolicy) -> None:
        await self._backoff_op(key, policy, "clear")

    async def _backoff_op(self, key: str, policy: BackoffPolicy, mode: str) -> float:
        async def shared() -> float:
            assert self._backoff is not None
            args = [mode, policy.free_failures, policy.base_delay, policy.max_delay, policy.forget_after]
            return float(await self._backoff(keys=[f"{self.prefix}fail:{key}"], args=args))

        return await self._shared_or_local(shared, lambda: self.memory.backoff(key, policy, mode))

    async def _shared_or_local(self, shared: Callable[[], Awaitable[T]], local: Callable[[], T]) -> T:
        if self._redis is None:
            return local()
        if self.degraded and self._clock() < self._retry_at:
            self.fallbacks += 1
            return local()
        # One request at a time probes a Redis that was down; the others keep counting in memory meanwhile.
        self._retry_at = self._clock() + self.retry_interval
        try:
            result = await shared()
        except (RedisError, OSError, TimeoutError) as error:
            self.fallbacks += 1
            self._fall_back(error)
            return local()
        if self.degraded:
            self.degraded = False
            log.warning("Redis answers again: rate limits and throttles are shared across replicas again")
        return result

    def _fall_back(self, error: Exception) -> None:
        self._retry_at = self._clock() + self.retry_interval
        if not self.degraded:
            self.degraded = True
            log.warning(
                "Redis is unreachable (%s): rate limits and throttles now count in this replica's memory only",
                type(error).__name__,
            )


@asynccontextmanager
async def redis_counters(counters: Counters, url: str | None) -> AsyncIterator[None]:
    """Connect the counters to Redis for the life of the block (nothing to do without a URL); a Redis that does not
    answer at start-up delays it by two seconds at most, then the counters start in memory."""
    if url is None:
        yield
        return
    client = connect_redis(url)
    counters.use_redis(client)
    await counters.prepare()
    try:
        yield
    finally:
        counters.use_redis(None)
        try:
            await asyncio.wait_for(client.aclose(), REDIS_TIMEOUT_SECONDS * 4)
        except (RedisError, OSError, TimeoutError):
            log.warning("closing the Redis connection failed")
