"""The example receiver in examples/ accepts the platform's real deliveries and refuses forged ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from examples.webhook_receiver import RECEIVER, create_app
from services.webhooks.signing import generate_secret, sign
from shared.principal import Principal
from tests.webhooks.conftest import AuthService, key_created, publish_event, subscribe, wait_for_log


async def test_the_example_receiver_accepts_a_real_delivery_once(
    webhooks: TestClient,
    auth_service: AuthService,
    sign: Callable[[Principal], dict[str, str]],
    amqp_url: str,
    bus_prefix: str,
) -> None:
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), "http://127.0.0.1:1/", ["api_key.created"])
    app = create_app(created["secret"])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/webhooks"))
        patched = await webhooks.patch(f"/api/webhooks/{created['id']}", json={"url": url}, headers=sign(user))
        assert patched.status == 200
        event = key_created(user, name="for the example")
        await publish_event(amqp_url, bus_prefix, event)
        (delivery,) = await wait_for_log(
            webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["status"] == "succeeded"
        )
        assert delivery["attempts"][0]["statusCode"] == 204
        assert [payload["data"]["key_id"] for payload in app[RECEIVER].handled] == [event.key_id]
    finally:
        await server.close()


async def test_the_example_receiver_refuses_a_forged_or_old_delivery(aiohttp_client: Any) -> None:
    secret = generate_secret()
    client = await aiohttp_client(create_app(secret))
    body = b'{"type":"api_key.created","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    now = int(time.time())

    def headers(signed_with: str, timestamp: int) -> dict[str, str]:
        return {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(signed_with, "msg_1", timestamp, body),
        }

    forged = await client.post("/webhooks", data=body, headers=headers(generate_secret(), now))
    old = await client.post("/webhooks", data=body, headers=headers(secret, now - 3600))
    genuine = await client.post("/webhooks", data=body, headers=headers(secret, now))
    repeated = await client.post("/webhooks", data=body, headers=headers(secret, now))
    assert (forged.status, old.status, genuine.status, repeated.status) == (400, 400, 204, 204)
    assert len(client.app[RECEIVER].handled) == 1
