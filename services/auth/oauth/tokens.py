"""Issuing tokens (JWT access tokens per RFC 9068, rotating refresh tokens) and revoking them with an announcement.

Every revocation writes its shared.messages.CredentialRevoked (credential_kind "oauth_access", credential_id = the
JWT's jti) to the outbox in the same transaction (services/auth/events.py), so every gateway refuses the token within
a second (services/gateway/jwt_verifier.py keeps the revoked jtis).

Issuing holds the row of the user the rights come from (the subject, or the client's owner) until the tokens are
stored, and reads the time from the database: a weakening of that user (which moves their not-before time and revokes
their stored tokens in one transaction) either committed before, and then the rights read earlier are not used, or
waits and then revokes these tokens too. A token's iat is never before its user's not-before time.
"""

from __future__ import annotations

import asyncio
import math
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
from services.auth.oauth.errors import InvalidGrant, UnauthorizedClient
from services.auth.oauth.signing import KeyRing
from services.auth.permissions import ALL_PERMISSIONS
from shared.messages import CredentialRevoked
from shared.platform_events import AppRevoked, new_event_id, now_iso

ACCESS_CREDENTIAL_KIND = "oauth_access"


@dataclass(frozen=True)
class Subject:
    """Whom a token acts for: a user (delegated) or, with user_id None, the client itself."""

    user_id: int | None
    username: str
    is_admin: bool
    permissions: frozenset[str]
    # The not-before time of the user the rights come from, as read with them: if it has changed by the time the
    # token is issued, the user was weakened in between and the rights are stale.
    not_before: datetime | None = None


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
        self,
        client: OAuthClient,
        subject: Subject,
        scopes: tuple[str, ...],
        jti: uuid.UUID,
        issued: datetime,
        expires: datetime,
    ) -> dict[str, Any]:
        """RFC 9068 section 2.2, plus the rights the token carries (`permissions`) and who it acts for."""
        return {
            "iss": self.config.issuer,
            "sub": str(subject.user_id) if subject.user_id is not None else client.client_id,
            "aud": self.config.audience,
            "exp": int(expires.timestamp()),
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
        refresh_scopes: tuple[str, ...] | None = None,
        family_expires_at: datetime | None = None,
    ) -> IssuedTokens:
        """The access token carries `scopes`; a refresh token (RFC 6749 section 6) keeps `refresh_scopes` (the
        family's grant, default `scopes`) and never outlives `family_expires_at` (a new family: now + its lifetime),
        nor does the access token."""
        jti = uuid.uuid4()
        refresh_token = None
        async with conn.transaction():
            issued = await self._issue_time(conn, client, subject)
            if family_expires_at is None:
                family_expires_at = issued + timedelta(seconds=self.config.refresh_family_ttl)
            expires = issued + timedelta(seconds=self.config.access_token_ttl)
            if family_id is not None:
                expires = min(expires, family_expires_at)
            access_token = self.keyring.sign(self.access_claims(client, subject, scopes, jti, issued, expires))
            await db.insert_access_token(
                conn, jti, family_id, client.client_id, subject.user_id, list(scopes), issued, expires
            )
            if with_refresh_token and subject.user_id is not None and family_id is not None:
                refresh_token = new_refresh_token()
                await db.insert_refresh_token(
                    conn,
                    self.hasher.refresh_token(refresh_token),
                    family_id,
                    client.client_id,
                    subject.user_id,
                    list(refresh_scopes if refresh_scopes is not None else scopes),
                    self.config.refresh_token_ttl,
                    family_expires_at,
                )
        expires_in = max(0, int(expires.timestamp()) - int(issued.timestamp()))
        return IssuedTokens(access_token, expires_in, scopes, refresh_token)

    async def _issue_time(self, conn: asyncpg.Connection, client: OAuthClient, subject: Subject) -> datetime:
        """Lock the rights' user (see the module docstring); the iat of the tokens, whole seconds."""
        user_id = subject.user_id if subject.user_id is not None else client.owner_user_id
        owner = await db.lock_for_issuing(conn, client.owner_user_id)
        if owner is None or not owner["is_active"]:
            raise UnauthorizedClient("The client's owner can no longer grant it access")
        row = owner if user_id == client.owner_user_id else await db.lock_for_issuing(conn, user_id)
        if row is None or not row["is_active"]:
            raise InvalidGrant("The grant is no longer valid")
        not_before = row["not_before"]
        if not_before != subject.not_before:
            raise InvalidGrant("The user's access changed while the token was being issued; authorize again")
        now: datetime = row["now"]
        if not_before is not None and math.floor(now.timestamp()) < not_before.timestamp():
            # Same second as the weakening: wait for the next one, so that "iat < not-before" means "issued before".
            await asyncio.sleep(math.ceil(not_before.timestamp()) - now.timestamp())
            return datetime.fromtimestamp(math.ceil(not_before.timestamp()), UTC)
        return now.replace(microsecond=0)

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
            withdrawn = await db.delete_consent(conn, user_id, client_id)
            revoked = await db.revoke_user_client_tokens(conn, user_id, client_id)
            await self.announce(conn, _pairs(revoked), reason)
            if withdrawn:
                event = AppRevoked(event_id=new_event_id(), occurred_at=now_iso(), client_id=client_id, user_id=user_id)
                await events.record_event(conn, event)

    async def revoke_access_token(self, conn: asyncpg.Connection, jti: uuid.UUID, user_id: int | None) -> None:
        async with conn.transaction():
            if await db.revoke_access_token(conn, jti):
                await self.announce(conn, [(jti, user_id)], "oauth_token_revoked")


def _pairs(rows: Iterable[asyncpg.Record]) -> list[tuple[uuid.UUID, int | None]]:
    return [(row["jti"], row["user_id"]) for row in rows]
