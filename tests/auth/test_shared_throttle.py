"""The failed-credential throttle is counted in Redis, so it holds across auth replicas, and degrades to each
replica's memory while Redis is down."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.auth.app import create_app
from services.auth.config import Config
from services.auth.keys import COUNTERS
from shared.verification import VerifyRequest
from tests.auth.conftest import Auth
from tests.redis_server import PrivateRedis, private_redis

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


async def replicas(aiohttp_client: Callable[..., Any], env: dict[str, str], count: int) -> list[Auth]:
    config = Config.from_env(env)
    return [
        Auth(client=await aiohttp_client(create_app(config)), signing_key=config.common.signing_key.bytes)
        for _ in range(count)
    ]


@pytest.fixture
async def redis_server() -> AsyncIterator[PrivateRedis]:
    async with private_redis() as server:
        yield server


async def test_failures_counted_on_one_replica_throttle_the_guesser_on_another(
    aiohttp_client: Callable[..., Any], base_env: dict[str, str]
) -> None:
    env = {**base_env, "REDIS_URL": os.environ.get("REDIS_URL", LOCAL_REDIS_URL)}
    first, second = await replicas(aiohttp_client, env, 2)
    username, address = f"victim-{secrets.token_hex(4)}", "203.0.113.90"
    for replica in (first, second, first, second, first):
        assert (await replica.verify_basic(username, "cpt_wrong", client_ip=address))[0] == 401
    status, _, headers = await second.verify(VerifyRequest("basic", "cpt_wrong", username, address))
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert first.client.app[COUNTERS].backend == "redis"


async def test_with_redis_down_the_throttle_still_counts_in_memory(
    aiohttp_client: Callable[..., Any], base_env: dict[str, str], redis_server: PrivateRedis
) -> None:
    (auth,) = await replicas(aiohttp_client, {**base_env, "REDIS_URL": redis_server.url}, 1)
    await redis_server.stop()
    username, address = f"victim-{secrets.token_hex(4)}", "203.0.113.91"
    for _ in range(5):
        assert (await auth.verify_basic(username, "cpt_wrong", client_ip=address))[0] == 401
    status, _, _ = await auth.verify(VerifyRequest("basic", "cpt_wrong", username, address))
    assert status == 429
    assert auth.client.app[COUNTERS].degraded and auth.client.app[COUNTERS].fallbacks > 0
