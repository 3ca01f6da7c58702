"""The authorization server: authenticates clients and picks the grant (token endpoint, RFC 6749 section 3.2),
revokes tokens (RFC 7009) and introspects them (RFC 7662). No aiohttp here: handlers pass plain requests in."""

from __future__ import annotations

import hmac
import os
import time
import uuid
from typing import Any

import asyncpg

from services.auth.oauth import db
from services.auth.oauth.client_secrets import MAX_SECRET_LENGTH, REFRESH_TOKEN_PREFIX
from services.auth.oauth.clients import OAuthClient
from services.auth.oauth.errors import (
    InvalidClient,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedTokenType,
)
from services.auth.oauth.grants import Grant
from services.auth.oauth.requests import TokenRequest
from services.auth.oauth.tokens import IssuedTokens, TokenService

TOKEN_TYPE_HINTS = ("access_token", "refresh_token")


class AuthorizationServer:
    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens
        self._grants: dict[str, type[Grant]] = {}
        # Compared against when the client is unknown, so that path costs the same as a wrong secret.
        self._dummy_hash = os.urandom(32)

    def register_grant(self, grant: type[Grant]) -> None:
        self._grants[grant.GRANT_TYPE] = grant

    @property
    def grant_types(self) -> tuple[str, ...]:
        return tuple(self._grants)

    async def authenticate_client(self, conn: asyncpg.Connection, request: TokenRequest) -> OAuthClient:
        """RFC 6749 section 2.3: a confidential client proves its secret; a public one only names itself."""
        credentials = request.credentials
        if len(credentials.client_id) > 64 or len(credentials.client_secret or "") > MAX_SECRET_LENGTH:
            raise InvalidClient()
        row = await db.get_client(conn, credentials.client_id)
        client = OAuthClient.from_record(row) if row is not None else None
        if credentials.client_secret is None:
            if client is None or client.is_confidential:
                raise InvalidClient()
            return client
        digest = self.tokens.hasher.client_secret(credentials.client_secret)
        stored = client.secret_hash if client is not None and client.secret_hash is not None else self._dummy_hash
        matches = hmac.compare_digest(digest, stored)
        if client is None or not client.is_confidential or not matches:
            raise InvalidClient()
        return client

    async def create_token_response(self, pool: asyncpg.Pool, request: TokenRequest) -> IssuedTokens:
        grant_type = request.require("grant_type")
        grant_class = self._grants.get(grant_type)
        if grant_class is None:
            raise UnsupportedGrantType("The grant_type is not supported by this server")
        async with pool.acquire() as conn:
            await self.tokens.keyring.refresh_if_stale(pool)
            client = await self.authenticate_client(conn, request)
            if not client.allows_grant(grant_type):
                raise UnauthorizedClient("This client is not allowed to use this grant type")
            grant = grant_class(self, request, client)
            await grant.validate(conn)
            return await grant.create_response(conn)

    async def revoke(self, pool: asyncpg.Pool, request: TokenRequest) -> None:
        """RFC 7009 section 2.1: revoke a token of this client. An unknown or invalid token is not an error (2.2).
        Revoking a refresh token revokes its whole family, access tokens included."""
        token = request.require("token")
        hint = request.get("token_type_hint")
        if hint is not None and hint not in TOKEN_TYPE_HINTS:
            raise UnsupportedTokenType("The token_type_hint is not supported")
        async with pool.acquire() as conn:
            client = await self.authenticate_client(conn, request)
            if token.startswith(REFRESH_TOKEN_PREFIX):
                found = await db.find_refresh_token(conn, self.tokens.hasher.refresh_token(token))
                if found is not None and found["client_id"] == client.client_id:
                    await self.tokens.revoke_family(conn, found["family_id"], "oauth_token_revoked")
                return
            claims = self._decode(token, verify_exp=False)
            if claims is None or claims.get("client_id") != client.client_id:
                return
            jti = _uuid(claims.get("jti"))
            if jti is None:
                return
            row = await db.get_access_token(conn, jti)
            if row is not None:
                await self.tokens.revoke_access_token(conn, jti, row["user_id"])

    async def introspect(self, pool: asyncpg.Pool, request: TokenRequest) -> dict[str, Any]:
        """RFC 7662 section 2.2: only tokens issued to the asking client are described; anything else is inactive."""
        token = request.require("token")
        hint = request.get("token_type_hint")
        if hint is not None and hint not in TOKEN_TYPE_HINTS:
            raise InvalidRequest("The token_type_hint is not supported")
        async with pool.acquire() as conn:
            client = await self.authenticate_client(conn, request)
            if not client.is_confidential:
                raise InvalidClient("Only confidential clients may introspect tokens")
            return await self.describe(conn, token, client.client_id)

    async def describe(self, conn: asyncpg.Connection, token: str, client_id: str | None) -> dict[str, Any]:
        """The introspection answer for a token, limited to one client's tokens unless client_id is None. RFC 7662
        section 2.2: active only while the token would be accepted, so also not once its user is deactivated or
        weakened after it was issued, its client deleted or its owner deactivated, or the user's consent withdrawn."""
        inactive = {"active": False}
        if token.startswith(REFRESH_TOKEN_PREFIX):
            found = await db.find_refresh_token(conn, self.tokens.hasher.refresh_token(token))
            if found is None or (client_id is not None and found["client_id"] != client_id):
                return inactive
            expires = int(found["expires_at"].timestamp())
            if found["revoked_at"] is not None or found["rotated_at"] is not None or expires <= time.time():
                return inactive
            if not await _still_granted(conn, found["client_id"], found["user_id"], found["created_at"].timestamp()):
                return inactive
            return {
                "active": True,
                "token_type": "refresh_token",
                "client_id": found["client_id"],
                "sub": str(found["user_id"]),
                "scope": " ".join(found["scopes"]),
                "exp": expires,
            }
        claims = self._decode(token, verify_exp=True)
        if claims is None or (client_id is not None and claims.get("client_id") != client_id):
            return inactive
        jti = _uuid(claims.get("jti"))
        row = await db.get_access_token(conn, jti) if jti is not None else None
        if row is None or row["revoked_at"] is not None:
            return inactive
        if not await _still_granted(conn, row["client_id"], row["user_id"], float(claims["iat"])):
            return inactive
        return {
            "active": True,
            "token_type": "Bearer",
            **{name: claims[name] for name in ("scope", "client_id", "username", "sub", "aud", "iss", "exp", "iat")},
            "jti": claims["jti"],
            "permissions": claims.get("permissions", []),
        }

    def _decode(self, token: str, *, verify_exp: bool) -> dict[str, Any] | None:
        config = self.tokens.config
        return self.tokens.keyring.decode(token, config.issuer, config.audience, verify_exp=verify_exp)


async def _still_granted(conn: asyncpg.Connection, client_id: str, user_id: int | None, issued_at: float) -> bool:
    """The client exists and its owner is active; for a user's token, the user is active, was not weakened after
    the token was issued, and still consents to the client."""
    standing = await db.get_token_standing(conn, client_id, user_id)
    if standing is None or not standing["owner_active"]:
        return False
    if user_id is None:
        return True
    not_before = standing["not_before"]
    if not_before is not None and issued_at < not_before.timestamp():
        return False
    return bool(standing["user_active"]) and bool(standing["consented"])


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
