"""The /internal/verify contract end to end: the gateway's verification client against the real auth service (not
the stub), for every credential kind and every answer the gateway acts on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from services.auth import api_keys
from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.auth.context import operator_principal
from services.auth.keys import POOL
from services.gateway.credentials import Credential
from services.gateway.verification import AuthClient
from shared.errors import InvalidCredential, TooManyRequests
from tests.auth.conftest import Auth


@pytest.fixture
async def auth(aiohttp_client: Callable[..., Any], base_env: dict[str, str]) -> Auth:
    config = AuthConfig.from_env(base_env)
    client = await aiohttp_client(create_auth(config))
    return Auth(client=client, signing_key=config.common.signing_key.bytes)


@pytest.fixture
async def client(auth: Auth) -> AsyncIterator[AuthClient]:
    async with aiohttp.ClientSession() as session:
        yield AuthClient(session, str(auth.client.make_url("")).rstrip("/"), auth.signing_key, timeout=5)


async def test_an_api_key_is_answered_with_its_owners_principal(auth: Auth, client: AuthClient) -> None:
    user = await auth.user(permissions={"products:read", "orders:read"})
    created = await auth.create_key(user)
    answer = await client.verify(Credential("api_key", created["key"]), "198.51.100.10")
    assert answer.principal.user_id == user["id"] and answer.principal.username == user["username"]
    assert answer.principal.permissions == frozenset({"products:read", "orders:read"})
    assert answer.principal.credential_kind == "api_key" and answer.principal.credential_id == created["id"]
    assert answer.cache_ttl == 60


async def test_a_narrowed_key_answers_only_its_scope(auth: Auth, client: AuthClient) -> None:
    user = await auth.user(admin=True)
    created = await auth.create_key(user, scope=["products:read"])
    answer = await client.verify(Credential("api_key", created["key"]), None)
    assert answer.principal.permissions == frozenset({"products:read"}) and not answer.principal.is_admin


async def test_an_expiring_keys_cache_time_ends_with_it(auth: Auth, client: AuthClient) -> None:
    user = await auth.user(permissions={"products:read"})
    created = await api_keys.create_key(
        auth.ctx,
        operator_principal(),
        name="expiring",
        expires_at=datetime.now(UTC) + timedelta(seconds=20),
        scope=None,
        owner_id=user["id"],
    )
    answer = await client.verify(Credential("api_key", created["key"]), None)
    assert 0 < answer.cache_ttl <= 20
    assert answer.principal.expires_at is not None and answer.principal.expires_at <= time.time() + 20


async def test_basic_credentials_are_answered_with_the_users_principal(auth: Auth, client: AuthClient) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user(permissions={"customers:read"})
    response = await auth.client.post(
        f"/api/users/{user['id']}/api-access", json={"enabled": True}, headers=auth.as_user(admin)
    )
    token = (await response.json())["token"]
    answer = await client.verify(Credential("basic", token, user["username"]), "198.51.100.11")
    assert answer.principal.credential_kind == "api_token" and answer.principal.user_id == user["id"]
    assert answer.principal.permissions == frozenset({"customers:read"})


async def test_an_apiphp_bearer_token_is_answered_with_its_apps_rights(auth: Auth, client: AuthClient) -> None:
    user = await auth.user(permissions={"products:read", "products:update"})
    async with auth.client.app[POOL].acquire() as conn:
        token, _ = await auth.client.app[APIPHP_TOKENS].issue_token(conn, user["id"], "my.client", "Mine", ["shop"])
    answer = await client.verify(Credential("bearer", token), None)
    assert answer.principal.user_id == user["id"] and answer.principal.client_id == "my.client"
    assert answer.principal.can("products", "read")


async def test_an_unknown_credential_is_the_gateways_invalid_credential(auth: Auth, client: AuthClient) -> None:
    with pytest.raises(InvalidCredential) as refused:
        await client.verify(Credential("api_key", "cap_" + "x" * 40), "198.51.100.12")
    assert refused.value.status == 401 and refused.value.headers["WWW-Authenticate"].startswith("Basic")


async def test_an_unknown_bearer_token_gets_a_bearer_challenge(auth: Auth, client: AuthClient) -> None:
    with pytest.raises(InvalidCredential) as refused:
        await client.verify(Credential("bearer", "0" * 32), "198.51.100.13")
    assert 'error="invalid_token"' in refused.value.headers["WWW-Authenticate"]


async def test_a_credential_auth_refuses_as_malformed_is_invalid_not_an_outage(auth: Auth, client: AuthClient) -> None:
    with pytest.raises(InvalidCredential):
        await client.verify(Credential("bearer", "t" * 600), None)


async def test_a_throttled_guesser_gets_429_with_the_auth_services_retry_after(auth: Auth, client: AuthClient) -> None:
    user = await auth.user()
    wrong = Credential("basic", "cpt_wrong", user["username"])
    for _ in range(5):
        with pytest.raises(InvalidCredential):
            await client.verify(wrong, "203.0.113.60")
    with pytest.raises(TooManyRequests) as throttled:
        await client.verify(wrong, "203.0.113.60")
    assert int(throttled.value.headers["Retry-After"]) >= 1
