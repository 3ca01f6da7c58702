"""Deliveries over real HTTP to receivers on 127.0.0.1, checked with the standardwebhooks library."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from standardwebhooks import WebhookVerificationError

from services.webhooks.housekeeping import purge_log
from services.webhooks.keys import POOL
from services.webhooks.targets import StaticResolver
from shared.principal import Principal
from tests.webhooks.conftest import (
    AuthService,
    Receiver,
    delivery_log,
    key_created,
    publish_event,
    subscribe,
    wait_for_log,
)

Sign = Callable[[Principal], dict[str, str]]


@pytest.fixture
def publish(amqp_url: str, bus_prefix: str) -> Callable[..., Any]:
    async def send(event: Any) -> None:
        await publish_event(amqp_url, bus_prefix, event)

    return send


async def test_a_delivery_is_signed_per_standard_webhooks(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver, publish: Callable[..., Any]
) -> None:
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    event = key_created(user, name="deploy key")
    await publish(event)
    (arrival,) = await receiver.wait_for(1)
    payload = arrival.verified(created["secret"])
    assert payload["type"] == "api_key.created"
    assert payload["timestamp"] == event.occurred_at
    assert payload["data"] == {
        "key_id": event.key_id,
        "user_id": user.user_id,
        "name": "deploy key",
        "prefix": "cap_test",
        "expires_at": None,
        "rotated_from": None,
    }
    assert arrival.webhook_id.startswith("msg_")


async def test_a_signature_made_with_another_secret_does_not_verify(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver, publish: Callable[..., Any]
) -> None:
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    rotated = await (await webhooks.post(f"/api/webhooks/{created['id']}/rotate-secret", headers=sign(user))).json()
    await publish(key_created(user))
    (arrival,) = await receiver.wait_for(1)
    arrival.verified(rotated["secret"])
    with pytest.raises(WebhookVerificationError):
        arrival.verified(created["secret"])


async def test_a_receiver_failing_twice_gets_the_same_webhook_id_three_times(
    webhooks: TestClient,
    auth_service: AuthService,
    sign: Sign,
    start_receiver: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    receiver = await start_receiver(500, 500, 200)
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    await publish(key_created(user))
    arrivals = await receiver.wait_for(3)
    assert len({arrival.webhook_id for arrival in arrivals}) == 1
    for arrival in arrivals:
        arrival.verified(created["secret"])
    (delivery,) = await wait_for_log(
        webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["status"] == "succeeded"
    )
    assert delivery["id"] == arrivals[0].webhook_id
    assert [attempt["statusCode"] for attempt in delivery["attempts"]] == [500, 500, 200]
    assert delivery["attempts"][0]["responseExcerpt"] == "answer 500"
    assert all(attempt["durationMs"] >= 0 and attempt["at"] for attempt in delivery["attempts"])


async def test_a_delivery_failing_through_the_whole_schedule_is_marked_failed(
    webhooks: TestClient,
    auth_service: AuthService,
    sign: Sign,
    start_receiver: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    receiver = await start_receiver(503, 503, 503, 503, 503)
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    await publish(key_created(user))
    (delivery,) = await wait_for_log(
        webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["status"] == "failed"
    )
    # The first attempt and one per delay of the schedule (three in the tests).
    assert len(delivery["attempts"]) == 4 and len(receiver.arrivals) == 4
    assert await delivery_log(webhooks, sign(user), created["id"], status="succeeded") == []
    assert len(await delivery_log(webhooks, sign(user), created["id"], status="failed")) == 1


async def test_deleting_a_subscription_stops_its_deliveries(
    webhooks: TestClient,
    auth_service: AuthService,
    sign: Sign,
    start_receiver: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    receiver = await start_receiver(500, 500, 500, 500)
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    await publish(key_created(user))
    await receiver.wait_for(1)
    assert (await webhooks.delete(f"/api/webhooks/{created['id']}", headers=sign(user))).status == 204
    await publish(key_created(user))
    # Longer than the whole retry schedule: the retry already queued finds no delivery and is dropped.
    await asyncio.sleep(2.0)
    assert len(receiver.arrivals) <= 2  # the retry in flight when the delete committed may still go out
    settled = len(receiver.arrivals)
    await asyncio.sleep(1.0)
    assert len(receiver.arrivals) == settled
    assert (await webhooks.get(f"/api/webhooks/{created['id']}", headers=sign(user))).status == 404


async def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(
    webhooks: TestClient,
    auth_service: AuthService,
    sign: Sign,
    receiver: Receiver,
    resolver: StaticResolver,
    publish: Callable[..., Any],
) -> None:
    user = await auth_service.user("api_keys:read")
    resolver.answer("hooks.example.com", ["93.184.216.34"])
    created = await subscribe(webhooks, sign(user), "http://hooks.example.com/hook", ["api_key.created"])
    # The name now points inside the network (DNS rebinding): the attempt must not connect there.
    resolver.answer("hooks.example.com", ["10.0.0.5"])
    await publish(key_created(user))
    log = await wait_for_log(webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["attempts"])
    attempt = log[0]["attempts"][0]
    assert attempt["outcome"] == "failed" and attempt["statusCode"] is None
    assert "target refused" in attempt["error"] and "10.0.0.5" in attempt["error"]


async def test_a_name_resolving_to_the_metadata_address_is_refused_at_subscription(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, resolver: StaticResolver
) -> None:
    user = await auth_service.user()
    resolver.answer("metadata.example.com", ["169.254.169.254"])
    body = {"url": "http://metadata.example.com/", "events": ["import.completed"]}
    assert (await webhooks.post("/api/webhooks", json=body, headers=sign(user))).status == 400


async def test_an_event_its_owner_may_not_see_is_refused_not_sent(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver, publish: Callable[..., Any]
) -> None:
    user = await auth_service.user()  # without api_keys:read
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    await publish(key_created(user))
    (delivery,) = await wait_for_log(webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["attempts"])
    assert delivery["status"] == "refused", delivery
    assert "api_keys:read" in delivery["attempts"][0]["error"]
    assert receiver.arrivals == []


async def test_another_users_event_never_reaches_a_subscription(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver, publish: Callable[..., Any]
) -> None:
    alice, bob = await auth_service.user("api_keys:read"), await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(alice), receiver.url, ["api_key.created"])
    await publish(key_created(bob, name="bob's"))
    await publish(key_created(alice, name="alice's"))
    (arrival,) = await receiver.wait_for(1)
    assert arrival.verified(created["secret"])["data"]["name"] == "alice's"
    await asyncio.sleep(0.5)
    assert len(receiver.arrivals) == 1


async def test_a_deactivated_owner_gets_no_more_deliveries(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver, publish: Callable[..., Any]
) -> None:
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    await auth_service.set_active(user, False)
    await publish(key_created(user))
    (delivery,) = await wait_for_log(webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["attempts"])
    assert delivery["status"] == "refused" and "deactivated" in delivery["attempts"][0]["error"]
    assert receiver.arrivals == []


async def test_a_subscription_failing_a_run_of_attempts_is_disabled_with_the_reason(
    start_webhooks: Callable[..., Any],
    auth_service: AuthService,
    sign: Sign,
    start_receiver: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    webhooks = await start_webhooks(WEBHOOKS_DISABLE_AFTER_FAILURES="3")
    receiver = await start_receiver(*[500] * 10)
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    await publish(key_created(user))

    async def disabled() -> dict[str, Any]:
        while True:
            shown = await (await webhooks.get(f"/api/webhooks/{created['id']}", headers=sign(user))).json()
            if not shown["active"]:
                return shown
            await asyncio.sleep(0.1)

    shown = await asyncio.wait_for(disabled(), 20)
    assert "3 failed attempts in a row" in shown["disabledReason"] and "HTTP 500" in shown["disabledReason"]
    assert shown["disabledAt"] is not None
    (delivery,) = await wait_for_log(
        webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["status"] != "pending"
    )
    assert delivery["status"] == "refused" and "disabled" in delivery["attempts"][-1]["error"]


async def test_a_delivery_can_be_resent_by_hand_with_its_webhook_id(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver, publish: Callable[..., Any]
) -> None:
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    await publish(key_created(user))
    (first,) = await receiver.wait_for(1)
    (delivery,) = await wait_for_log(
        webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["status"] == "succeeded"
    )
    response = await webhooks.post(
        f"/api/webhooks/{created['id']}/deliveries/{delivery['id']}/resend", headers=sign(user)
    )
    assert response.status == 202
    again = (await receiver.wait_for(2))[1]
    assert again.webhook_id == first.webhook_id and again.body == first.body
    again.verified(created["secret"])
    (delivery,) = await wait_for_log(
        webhooks, sign(user), created["id"], lambda log: len(log[0]["attempts"]) == 2 and log[0]["status"] != "pending"
    )
    assert delivery["status"] == "succeeded"


async def test_finished_deliveries_past_the_retention_are_purged(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver, publish: Callable[..., Any]
) -> None:
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    await publish(key_created(user))
    await wait_for_log(webhooks, sign(user), created["id"], lambda log: bool(log) and log[0]["status"] == "succeeded")
    assert await purge_log(webhooks.app[POOL], timedelta(days=1)) == 0
    assert await purge_log(webhooks.app[POOL], timedelta(0)) >= 1
    assert await delivery_log(webhooks, sign(user), created["id"]) == []
