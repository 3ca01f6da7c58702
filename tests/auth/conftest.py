"""Fixtures for the auth service: a running app on the real PostgreSQL and RabbitMQ, users made directly,
requests signed as the gateway would sign them, and a tap on the revocation exchange."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.auth import accounts, api_keys
from services.auth.app import create_app
from services.auth.config import Config
from services.auth.context import operator_principal
from services.auth.keys import CONTEXT
from services.auth.permissions import ALL_PERMISSIONS
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal


@pytest.fixture
def auth_env(base_env: dict[str, str]) -> dict[str, str]:
    return dict(base_env)


@pytest.fixture
def auth_config(auth_env: dict[str, str]) -> Config:
    return Config.from_env(auth_env)


@dataclass
class Auth:
    """A running auth app and the ways a test talks to it."""

    client: TestClient
    signing_key: bytes

    @property
    def ctx(self) -> Any:
        return self.client.app[CONTEXT]

    async def user(
        self, *, admin: bool = False, permissions: frozenset[str] | set[str] = frozenset(), password: str | None = None
    ) -> dict[str, Any]:
        return await accounts.create_user(
            self.ctx,
            operator_principal(),
            username=f"user-{secrets.token_hex(6)}",
            email=None,
            password=password,
            is_admin=admin,
            permissions=frozenset(permissions),
        )

    def principal(self, user: dict[str, Any], permissions: frozenset[str] | None = None) -> Principal:
        granted = ALL_PERMISSIONS if user["is_admin"] else frozenset(user["permissions"])
        return Principal(
            user_id=user["id"],
            username=user["username"],
            is_admin=user["is_admin"],
            permissions=granted if permissions is None else permissions,
            credential_kind="api_key",
            credential_id="test-credential",
        )

    def as_user(self, user: dict[str, Any], permissions: frozenset[str] | None = None) -> dict[str, str]:
        return {PRINCIPAL_HEADER: sign_principal(self.principal(user, permissions), self.signing_key, "auth")}

    def as_gateway(self) -> dict[str, str]:
        return {PRINCIPAL_HEADER: sign_principal(Principal.service("gateway"), self.signing_key, "auth")}

    async def verify(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], Any]:
        response = await self.client.post("/internal/verify", json=body, headers=self.as_gateway())
        return response.status, await response.json(), response.headers

    async def verify_key(self, key: str, client_ip: str = "198.51.100.1") -> tuple[int, dict[str, Any]]:
        status, body, _ = await self.verify({"kind": "api_key", "key": key, "client_ip": client_ip})
        return status, body

    async def verify_basic(self, username: str, token: str, client_ip: str = "198.51.100.2") -> tuple[int, dict]:
        status, body, _ = await self.verify(
            {"kind": "basic", "username": username, "token": token, "client_ip": client_ip}
        )
        return status, body

    async def create_key(self, user: dict[str, Any], scope: list[str] | None = None) -> dict[str, Any]:
        """A key made for the user by an operator (the API's own create is tested in test_keys_api)."""
        return await api_keys.create_key(
            self.ctx,
            operator_principal(),
            name="test key",
            expires_at=None,
            scope=frozenset(scope) if scope is not None else None,
            owner_id=user["id"],
        )


@pytest.fixture
async def auth(aiohttp_client: Callable[..., Any], auth_config: Config) -> Auth:
    client = await aiohttp_client(create_app(auth_config))
    return Auth(client=client, signing_key=auth_config.common.signing_key.bytes)
