"""The counters give the same decisions in Redis (Lua, Redis' clock) as in memory."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest

from shared.counters import BACKOFF_SCRIPT, GCRA_SCRIPT, BackoffPolicy, Counters, connect_redis, redis_counters
from tests.redis_server import free_port, private_redis

POLICY = BackoffPolicy(free_failures=2, base_delay=30.0, max_delay=100.0, forget_after=60.0)


@pytest.fixture
async def in_redis() -> AsyncIterator[Counters]:
    client = connect_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), timeout=2.0)
    counters = Counters(f"test-{secrets.token_hex(6)}:")
    counters.use_redis(client)
    yield counters
    keys = [key async for key in client.scan_iter(match=f"{counters.prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_rate_in_redis_allows_the_burst_then_refuses_with_the_time_to_the_next_request(
    in_redis: Counters,
) -> None:
    decisions = [await in_redis.rate("k", 3, 60.0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 19.0 < decisions[3].retry_after <= 20.0
    assert 59.0 < decisions[3].reset_after <= 60.0
    peeked = await in_redis.rate("k", 3, 60.0, cost=0)
    assert peeked.remaining == 0
    assert in_redis.backend == "redis" and in_redis.fallbacks == 0


async def test_failures_in_redis_double_the_wait_up_to_the_ceiling_and_clear(in_redis: Counters) -> None:
    waits = [await in_redis.record_failure("f", POLICY) for _ in range(4)]
    assert waits[0] == 0.0
    assert 29.0 < waits[1] <= 30.0 and 59.0 < waits[2] <= 60.0 and 99.0 < waits[3] <= 100.0
    assert 99.0 < await in_redis.failure_wait("f", POLICY) <= 100.0
    await in_redis.clear_failures("f", POLICY)
    assert await in_redis.failure_wait("f", POLICY) == 0.0


async def test_memory_counters_decide_like_the_redis_ones() -> None:
    now = [0.0]
    counters = Counters("m:", clock=lambda: now[0])
    decisions = [await counters.rate("k", 3, 60.0) for _ in range(4)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert decisions[3].retry_after == pytest.approx(20.0)
    waits = [await counters.record_failure("f", POLICY) for _ in range(4)]
    assert waits == [0.0, 30.0, 60.0, 100.0]
    now[0] += 100.0 + POLICY.forget_after
    assert await counters.failure_wait("f", POLICY) == 0.0


async def test_counters_load_their_scripts_into_redis_at_start_up() -> None:
    async with private_redis() as server:
        counters = Counters("p:")
        async with redis_counters(counters, server.url):
            checker = connect_redis(server.url, timeout=2.0)
            shas = [checker.register_script(script).sha for script in (GCRA_SCRIPT, BACKOFF_SCRIPT)]
            assert await checker.script_exists(*shas) == [True, True]
            await checker.aclose()
        assert not counters.degraded


async def test_counters_started_while_redis_is_down_report_it_at_once_and_count_in_memory() -> None:
    counters = Counters("d:")
    async with redis_counters(counters, f"redis://127.0.0.1:{free_port()}/0"):
        assert counters.degraded
        assert (await counters.rate("k", 1, 60.0)).allowed
        assert not (await counters.rate("k", 1, 60.0)).allowed
