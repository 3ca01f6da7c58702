"""The management API: who may do what, what a subscription may say, the secret shown once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from shared.principal import Principal
from tests.webhooks.conftest import AuthService, Receiver, subscribe

Sign = Callable[[Principal], dict[str, str]]


async def test_a_new_subscription_shows_its_whsec_secret_once(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    user = await auth_service.user("api_keys:read")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"], description="keys")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) >= 6 + 32
    response = await webhooks.get(f"/api/webhooks/{created['id']}", headers=sign(user))
    shown = await response.json()
    assert response.status == 200 and "secret" not in shown
    assert shown["events"] == ["api_key.created"] and shown["description"] == "keys" and shown["active"] is True


async def test_a_subscription_to_the_metadata_address_is_refused(
    webhooks: TestClient, auth_service: AuthService, sign: Sign
) -> None:
    user = await auth_service.user()
    body = {"url": "http://169.254.169.254/latest/meta-data/", "events": ["import.completed"]}
    response = await webhooks.post("/api/webhooks", json=body, headers=sign(user))
    assert response.status == 400
    assert (await response.json())["error"]["target"] == "url"


async def test_private_and_ula_targets_are_refused_unless_allowed(
    webhooks: TestClient, auth_service: AuthService, sign: Sign
) -> None:
    user = await auth_service.user()
    for url in ("http://10.1.2.3/hook", "http://[fd00::1]/hook", "http://[::ffff:192.168.0.1]/", "http://[::1]:1/"):
        response = await webhooks.post(
            "/api/webhooks", json={"url": url, "events": ["import.completed"]}, headers=sign(user)
        )
        assert response.status == 400, url


async def test_unknown_event_types_and_fields_are_refused(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    user = await auth_service.user()
    unknown_event = await webhooks.post(
        "/api/webhooks", json={"url": receiver.url, "events": ["order.shipped"]}, headers=sign(user)
    )
    unknown_field = await webhooks.post(
        "/api/webhooks", json={"url": receiver.url, "events": ["import.completed"], "secret": "x"}, headers=sign(user)
    )
    assert unknown_event.status == 400 and unknown_field.status == 400


async def test_a_user_sees_their_own_subscriptions_and_an_admin_sees_all(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    alice, bob, admin = await auth_service.user(), await auth_service.user(), await auth_service.user(admin=True)
    mine = await subscribe(webhooks, sign(alice), receiver.url, ["import.completed"])
    theirs = await subscribe(webhooks, sign(bob), receiver.url, ["import.completed"])
    listed = {item["id"] for item in (await (await webhooks.get("/api/webhooks", headers=sign(alice))).json())["value"]}
    assert mine["id"] in listed and theirs["id"] not in listed
    assert (await webhooks.get(f"/api/webhooks/{theirs['id']}", headers=sign(alice))).status == 404
    assert (await webhooks.delete(f"/api/webhooks/{theirs['id']}", headers=sign(alice))).status == 404
    everything = await (await webhooks.get("/api/webhooks?limit=200", headers=sign(admin))).json()
    assert {mine["id"], theirs["id"]} <= {item["id"] for item in everything["value"]}


async def test_an_app_manages_webhooks_only_with_a_scope_naming_them(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    user = await auth_service.user()
    body = {"url": receiver.url, "events": ["import.completed"]}
    broad = dataclasses.replace(user, credential_kind="oauth_access", client_id="app-1", scopes=("read", "write"))
    named = dataclasses.replace(broad, scopes=("webhooks:create",))
    assert (await webhooks.post("/api/webhooks", json=body, headers=sign(broad))).status == 403
    created = await webhooks.post("/api/webhooks", json=body, headers=sign(named))
    assert created.status == 201
    assert (await created.json())["createdByClient"] == "app-1"


async def test_the_permission_is_needed(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    user = await auth_service.user()
    reader = dataclasses.replace(user, permissions=frozenset({"webhooks:read"}))
    body = {"url": receiver.url, "events": ["import.completed"]}
    assert (await webhooks.post("/api/webhooks", json=body, headers=sign(reader))).status == 403
    assert (await webhooks.post("/api/webhooks", json=body)).status == 401


async def test_updating_changes_the_fields_and_enabling_clears_the_reason(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    user = await auth_service.user()
    created = await subscribe(webhooks, sign(user), receiver.url, ["import.completed"])
    response = await webhooks.patch(
        f"/api/webhooks/{created['id']}",
        json={"events": ["import.failed", "import.completed"], "active": False, "description": "paused"},
        headers=sign(user),
    )
    changed: dict[str, Any] = await response.json()
    assert response.status == 200
    assert changed["events"] == ["import.failed", "import.completed"] and changed["active"] is False
    refused = await webhooks.patch(
        f"/api/webhooks/{created['id']}", json={"url": "http://169.254.169.254/"}, headers=sign(user)
    )
    assert refused.status == 400


async def test_rotating_the_secret_shows_a_new_one(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    user = await auth_service.user()
    created = await subscribe(webhooks, sign(user), receiver.url, ["import.completed"])
    response = await webhooks.post(f"/api/webhooks/{created['id']}/rotate-secret", headers=sign(user))
    rotated = await response.json()
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]


async def test_the_delivery_log_refuses_an_unknown_status(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    user = await auth_service.user()
    created = await subscribe(webhooks, sign(user), receiver.url, ["import.completed"])
    response = await webhooks.get(f"/api/webhooks/{created['id']}/deliveries?status=lost", headers=sign(user))
    assert response.status == 400
