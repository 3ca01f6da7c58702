"""Revocation holds across gateway restarts and broker outages: a gateway learns every revocation from the auth
service's durable state when it starts and whenever its broker connection comes back, not only from the bus."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.chaos.servers import PrivateRabbit, ServerUnavailable
from tests.eventually import eventually
from tests.security._revocation_stack import (
    RevocationStack,
    call,
    post_form,
    readiness,
    revocation_stack,
)

__all__ = ["revocation_stack"]


async def refused_within(check: Callable[[], Awaitable[int]], timeout: float) -> bool:
    async def refused() -> bool:
        return await check() == 401

    return await eventually(refused, timeout=timeout, what="the refusal")


async def test_a_restarted_gateway_still_refuses_the_tokens_of_a_user_deactivated_before_it_started(
    revocation_stack: RevocationStack,
) -> None:
    stack = revocation_stack
    victim, bystander = await stack.reader(), await stack.reader()
    first = await stack.start_gateway()
    assert await call(first, victim["tokens"]["access_token"]) == 200
    admin = await stack.oauth.user(admin=True, signs_in=False)
    response = await stack.oauth.browser.patch(
        f"/api/users/{victim['user']['id']}", json={"is_active": False}, headers=stack.oauth.as_user(admin)
    )
    assert response.status == 200, await response.text()
    assert await refused_within(lambda: call(first, victim["tokens"]["access_token"]), 1.0)
    await first.stop()
    second = await stack.start_gateway()
    assert await call(second, victim["tokens"]["access_token"]) == 401
    assert await call(second, bystander["tokens"]["access_token"]) == 200


async def test_a_new_gateway_refuses_a_token_revoked_by_its_client_before_it_started(
    revocation_stack: RevocationStack,
) -> None:
    stack = revocation_stack
    holder = await stack.reader()
    app = holder["app"]
    status, _ = await post_form(
        stack.oauth.base_url,
        "/auth/oauth/revoke",
        {"token": holder["tokens"]["access_token"]},
        (app["client_id"], app["client_secret"]),
    )
    assert status == 200
    gateway = await stack.start_gateway()
    assert await call(gateway, holder["tokens"]["access_token"]) == 401


async def test_a_user_stripped_of_a_permission_is_refused_with_old_tokens_by_a_new_gateway(
    revocation_stack: RevocationStack,
) -> None:
    stack = revocation_stack
    holder = await stack.reader()
    admin = await stack.oauth.user(admin=True, signs_in=False)
    response = await stack.oauth.browser.put(
        f"/api/users/{holder['user']['id']}/permissions",
        json={"permissions": ["orders:read"]},
        headers=stack.oauth.as_user(admin),
    )
    assert response.status == 200, await response.text()
    gateway = await stack.start_gateway()
    assert await call(gateway, holder["tokens"]["access_token"], "/odata/orders?$top=1") == 401


async def test_a_gateway_without_the_revocation_list_refuses_tokens_and_is_not_ready(
    revocation_stack: RevocationStack,
) -> None:
    stack = revocation_stack
    holder = await stack.reader()
    gateway = await stack.start_gateway(until_ready=False, AUTH_URL="http://127.0.0.1:9")
    assert await call(gateway, holder["tokens"]["access_token"]) == 503
    checks = await readiness(gateway)
    assert checks["revocations"].startswith("unavailable")


@pytest.fixture
def gateway_rabbit() -> Iterator[PrivateRabbit]:
    """A broker of the gateway's own, which the test stops and starts; the auth service stays on the shared one, so
    the gateway never hears its events on the bus and can learn them only from the revocation list."""
    workdir = Path(tempfile.mkdtemp(prefix="revocation-"))
    workdir.chmod(0o755)
    try:
        (workdir / "rabbitmq").mkdir()
        server = PrivateRabbit(workdir / "rabbitmq")
    except ServerUnavailable as error:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(str(error))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_a_token_revoked_while_the_gateway_was_cut_off_the_broker_is_refused_within_a_second_of_reconnecting(
    revocation_stack: RevocationStack, gateway_rabbit: PrivateRabbit
) -> None:
    stack = revocation_stack
    holder = await stack.reader()
    token = holder["tokens"]["access_token"]
    gateway = await stack.start_gateway(AMQP_URL=gateway_rabbit.url)
    assert await call(gateway, token) == 200
    await asyncio.to_thread(gateway_rabbit.stop_app)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while (await readiness(gateway)).get("rabbitmq") == "ok":
        assert loop.time() < deadline, "the gateway did not notice the broker going away"
        await asyncio.sleep(0.1)
    admin = await stack.oauth.user(admin=True, signs_in=False)
    response = await stack.oauth.browser.patch(
        f"/api/users/{holder['user']['id']}", json={"is_active": False}, headers=stack.oauth.as_user(admin)
    )
    assert response.status == 200
    await asyncio.to_thread(gateway_rabbit.start_app)
    reconnected_at = refused_at = None
    deadline = loop.time() + 30
    while refused_at is None and loop.time() < deadline:
        polled_at = loop.time()
        if reconnected_at is None and (await readiness(gateway)).get("rabbitmq") == "ok":
            reconnected_at = polled_at
        if await call(gateway, token) == 401:
            refused_at = loop.time()
            # Reconnected after the last readiness poll at the earliest: measure from that poll.
            reconnected_at = polled_at if reconnected_at is None else reconnected_at
        await asyncio.sleep(0.05)
    assert refused_at is not None, gateway.output()
    assert reconnected_at is not None and refused_at - reconnected_at <= 1.0
    assert (await readiness(gateway)).get("revocations") == "ok"
