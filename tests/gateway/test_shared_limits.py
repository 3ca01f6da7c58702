"""Rate limits counted in Redis hold across gateway replicas; while Redis is down each replica counts on its own."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

import pytest

from services.gateway.handlers import rate_limit_key
from services.gateway.keys import COUNTERS
from shared.metrics import METRICS
from shared.principal import Principal
from tests.gateway.conftest import Gateway, StartGateway
from tests.redis_server import PrivateRedis, private_redis

PUBLIC = "/auth/oauth/authorize"


@pytest.fixture
async def redis_server() -> AsyncIterator[PrivateRedis]:
    async with private_redis() as server:
        yield server


def client_principal(client_id: str) -> Principal:
    """What an OAuth client-credentials access token verifies to: the client acts for itself."""
    return Principal(
        user_id=None,
        username=client_id,
        is_admin=False,
        permissions=frozenset({"products:read"}),
        credential_kind="oauth_access_token",
        credential_id=secrets.token_hex(8),
        client_id=client_id,
    )


async def metrics_text(gateway: Gateway) -> str:
    body, _ = await gateway.app[METRICS].render()
    return body.decode()


async def test_two_replicas_share_one_budget_per_client_address(
    start_gateway: StartGateway, redis_server: PrivateRedis
) -> None:
    first = await start_gateway(RATE_LIMIT_ANONYMOUS="3", REDIS_URL=redis_server.url)
    second = await start_gateway(RATE_LIMIT_ANONYMOUS="3", REDIS_URL=redis_server.url)
    statuses = [
        (await first.client.get(PUBLIC)).status,
        (await second.client.get(PUBLIC)).status,
        (await first.client.get(PUBLIC)).status,
    ]
    refused = await second.client.get(PUBLIC)
    assert statuses == [200, 200, 200]
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1


async def test_new_tokens_of_one_oauth_client_do_not_reset_its_budget(
    start_gateway: StartGateway, redis_server: PrivateRedis
) -> None:
    gateway = await start_gateway(RATE_LIMIT_BEARER="2", REDIS_URL=redis_server.url)
    client_id = f"app-{secrets.token_hex(4)}"
    statuses = []
    for _ in range(3):
        token = gateway.auth.bearer(client_principal(client_id))  # a freshly minted token each time
        response = await gateway.client.get("/odata/products", headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status)
    assert statuses == [200, 200, 429]


def test_the_budget_of_an_oauth_client_is_keyed_on_the_client_not_the_token() -> None:
    first, second = client_principal("shop-sync"), client_principal("shop-sync")
    assert first.credential_id != second.credential_id
    assert rate_limit_key(first) == rate_limit_key(second) != rate_limit_key(client_principal("other-app"))


async def test_with_redis_down_requests_keep_flowing_on_per_replica_limits_and_it_is_reported(
    start_gateway: StartGateway, redis_server: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await start_gateway(RATE_LIMIT_ANONYMOUS="2", REDIS_URL=redis_server.url)
    assert (await gateway.client.get(PUBLIC)).status == 200
    await redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="shared.counters"):
        statuses = [(await gateway.client.get(PUBLIC)).status for _ in range(3)]
    assert statuses == [200, 200, 429]  # this replica's own count, started afresh in memory
    assert "Redis is unreachable" in caplog.text
    text = await metrics_text(gateway)
    assert "ratelimit_backend_degraded 1.0" in text
    assert gateway.app[COUNTERS].fallbacks >= 3


async def test_when_redis_is_back_the_shared_counting_resumes_by_itself(
    start_gateway: StartGateway, redis_server: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await start_gateway(RATE_LIMIT_ANONYMOUS="100", REDIS_URL=redis_server.url)
    await redis_server.stop()
    assert (await gateway.client.get(PUBLIC)).status == 200
    assert gateway.app[COUNTERS].degraded
    await redis_server.start()
    with caplog.at_level(logging.WARNING, logger="shared.counters"):
        for _ in range(50):  # the counters try Redis again once per retry interval (1 s)
            assert (await gateway.client.get(PUBLIC)).status == 200
            if not gateway.app[COUNTERS].degraded:
                break
            await asyncio.sleep(0.1)
    assert not gateway.app[COUNTERS].degraded
    assert "Redis answers again" in caplog.text
    assert "ratelimit_backend_degraded 0.0" in await metrics_text(gateway)
