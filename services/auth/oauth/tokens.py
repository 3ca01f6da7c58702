"""Issuing tokens (JWT access tokens per RFC 9068, rotating refresh tokens) and revoking them with an announcement.

Every revocation writes its shared.messages.CredentialRevoked (credential_kind "oauth_access", credential_id = the
JWT's jti) to the outbox in the same transaction (services/auth/events.py), so every gateway refuses the token within
a second (services/gateway/jwt_verifier.py keeps the revoked jtis).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.auth import events
from services.auth.oauth import db
from services.auth.oauth.client_secrets import OAuthHasher, new_refresh_token
from services.auth.oauth.clients import OAuthClient
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.signing import KeyRing
from services.auth.permissions import ALL_PERMISSIONS
from shared.messages import CredentialRevoked

ACCESS_CREDENTIAL_KIND = "oauth_access"


@dataclass(frozen=True)
class Subject:
    """Whom a token acts for: a user (delegated) or, with user_id None, the client itself."""

    user_id: int | None
    username: str
    is_admin: bool
    permissions: frozenset[str]


@dataclass(frozen=True)
class IssuedTokens:
    """RFC 6749 section 5.1."""

    access_token: str
    expires_in: int
    scope: tuple[str, ...]
    refresh_token: str | None

    def __repr__(self) -> str:
        return f"IssuedTokens(expires_in={self.expires_in}, scope={self.scope!r})"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(self.scope),
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


class TokenService:
    def __init__(self, config: OAuthConfig, keyring: KeyRing, hasher: OAuthHasher) -> None:
        self.config = config
        self.keyring = keyring
        self.hasher = hasher

    def access_claims(
        self, client: OAuthClient, subject: Subject, scopes: tuple[str, ...], jti: uuid.UUID, issued: datetime
    ) -> dict[str, Any]:
        """RFC 9068 section 2.2, plus the rights the token carries (`permissions`) and who it acts for."""
        return {
            "iss": self.config.issuer,
            "sub": str(subject.user_id) if subject.user_id is not None else client.client_id,
            "aud": self.config.audience,
            "exp": int(issued.timestamp()) + self.config.access_token_ttl,
            "iat": int(issued.timestamp()),
            "jti": str(jti),
            "client_id": client.client_id,
            "scope": " ".join(scopes),
            "permissions": sorted(subject.permissions),
            "username": subject.username,
            # An admin's token is an admin credential only while its scopes leave every right in place.
            "admin": subject.is_admin and subject.permissions >= ALL_PERMISSIONS,
        }

    async def issue(
        self,
        conn: asyncpg.Connection,
        client: OAuthClient,
        subject: Subject,
        scopes: tuple[str, ...],
        *,
        family_id: uuid.UUID | None,
        with_refresh_token: bool,
    ) -> IssuedTokens:
        jti = uuid.uuid4()
        issued = datetime.now(UTC).replace(microsecond=0)
        access_token = self.keyring.sign(self.access_claims(client, subject, scopes, jti, issued))
        refresh_token = None
        async with conn.transaction():
            await db.insert_access_token(
                conn,
                jti,
                family_id,
                client.client_id,
                subject.user_id,
                list(scopes),
                issued,
                issued + timedelta(seconds=self.config.access_token_ttl),
            )
            if with_refresh_token and subject.user_id is not None and family_id is not None:
                refresh_token = new_refresh_token()
                await db.insert_refresh_token(
                    conn,
                    self.hasher.refresh_token(refresh_token),
                    family_id,
                    client.client_id,
                    subject.user_id,
                    list(scopes),
                    self.config.refresh_token_ttl,
                )
        return IssuedTokens(access_token, self.config.access_token_ttl, scopes, refresh_token)

    async def announce(
        self, conn: asyncpg.Connection, revoked: Iterable[tuple[uuid.UUID, int | None]], reason: str
    ) -> None:
        """Record one event per revoked access token (jti, user id), in the transaction that revoked them."""
        for jti, user_id in revoked:
            await events.record(
                conn,
                CredentialRevoked(
                    reason=reason, credential_kind=ACCESS_CREDENTIAL_KIND, credential_id=str(jti), user_id=user_id
                ),
            )

    async def revoke_family(self, conn: asyncpg.Connection, family_id: uuid.UUID, reason: str) -> None:
        async with conn.transaction():
            revoked = await db.revoke_family(conn, family_id)
            await self.announce(conn, _pairs(revoked), reason)

    async def revoke_user_client(self, conn: asyncpg.Connection, user_id: int, client_id: str, reason: str) -> None:
        async with conn.transaction():
            await db.delete_consent(conn, user_id, client_id)
            revoked = await db.revoke_user_client_tokens(conn, user_id, client_id)
            await self.announce(conn, _pairs(revoked), reason)

    async def revoke_access_token(self, conn: asyncpg.Connection, jti: uuid.UUID, user_id: int | None) -> None:
        async with conn.transaction():
            if await db.revoke_access_token(conn, jti):
                await self.announce(conn, [(jti, user_id)], "oauth_token_revoked")


def _pairs(rows: Iterable[asyncpg.Record]) -> list[tuple[uuid.UUID, int | None]]:
    return [(row["jti"], row["user_id"]) for row in rows]
