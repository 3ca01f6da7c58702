"""The management API behind the real gateway, called with a real API key."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from services.auth import api_keys
from services.auth.keys import CONTEXT
from services.gateway.app import create_app as create_gateway
from services.gateway.config import Config as GatewayConfig
from tests.webhooks.conftest import AuthService, Receiver


async def test_the_gateway_forwards_webhooks_calls_with_the_signed_principal(
    aiohttp_client: Any, base_env: dict[str, str], webhooks: TestClient, auth_service: AuthService, receiver: Receiver
) -> None:
    backend: TestServer = webhooks.server  # type: ignore[assignment]
    gateway = await aiohttp_client(
        create_gateway(
            GatewayConfig.from_env(
                {**base_env, "AUTH_URL": auth_service.url, "WEBHOOKS_URL": str(backend.make_url("")).rstrip("/")}
            )
        )
    )
    user = await auth_service.user("api_keys:create")
    key = (await api_keys.create_key(auth_service.app[CONTEXT], user, name="hooks", expires_at=None, scope=None))["key"]
    reader = await api_keys.create_key(
        auth_service.app[CONTEXT], user, name="read only", expires_at=None, scope=frozenset({"webhooks:read"})
    )
    body = {"url": receiver.url, "events": ["import.completed"]}
    created = await gateway.post("/api/webhooks", json=body, headers={"X-API-Key": key})
    assert created.status == 201, await created.text()
    listed = await (await gateway.get("/api/webhooks", headers={"X-API-Key": reader["key"]})).json()
    assert [item["id"] for item in listed["value"]] == [(await created.json())["id"]]
    refused = await gateway.post("/api/webhooks", json=body, headers={"X-API-Key": reader["key"]})
    assert refused.status == 403
