"""Recording revocations, so every gateway drops what it cached for a credential or a user.

An event is written to the outbox (auth.revocation_outbox) in the same transaction as the change it announces:
it exists exactly when the change committed, and services/auth/outbox.py puts it on the bus within milliseconds,
or as soon as the broker is reachable again. The bus only announces: what a weakened user held is revoked in
PostgreSQL in that same transaction (a not-before time and the revoked tokens), where a gateway that starts or
reconnects reads it (GET /internal/oauth/revocations).
"""

from __future__ import annotations

import dataclasses
import time
from contextvars import ContextVar

import asyncpg

from services.auth import db
from services.auth.oauth import db as oauth_db
from shared.messages import CredentialRevoked

# The outbox ids written while serving one request, so it can answer once they are on the bus (outbox.py).
recorded_in_request: ContextVar[list[int] | None] = ContextVar("recorded_in_request", default=None)


async def record(conn: asyncpg.Connection, event: CredentialRevoked) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError("a revocation event must be written in the transaction of the change it announces")
    if event.created_at is None:
        event = dataclasses.replace(event, created_at=time.time())
    event_id = await db.insert_outbox_event(conn, event)
    recorded = recorded_in_request.get()
    if recorded is not None:
        recorded.append(event_id)


class RevocationPublisher:
    """The revocations a domain operation records, each in the caller's open transaction."""

    async def announce(self, conn: asyncpg.Connection, event: CredentialRevoked) -> None:
        await record(conn, event)

    async def key_revoked(self, conn: asyncpg.Connection, key_id: str, user_id: int, reason: str) -> None:
        await record(
            conn, CredentialRevoked(reason=reason, credential_kind="api_key", credential_id=key_id, user_id=user_id)
        )

    async def token_revoked(self, conn: asyncpg.Connection, user_id: int, reason: str) -> None:
        await record(
            conn,
            CredentialRevoked(
                reason=reason, credential_kind="api_token", credential_id=f"api_token:{user_id}", user_id=user_id
            ),
        )

    async def user_weakened(
        self, conn: asyncpg.Connection, user_id: int, reason: str, *, deactivated: bool = False
    ) -> None:
        """Revoke the user's OAuth tokens and those of the clients they own (every one of them when the user is
        deactivated, otherwise the clients' own, whose rights come from the owner), then announce it."""
        if not conn.is_in_transaction():
            raise RuntimeError("a user's grants must be revoked in the transaction of the change that weakens them")
        not_before = await oauth_db.set_user_not_before(conn, user_id, reason)
        for jti in await oauth_db.revoke_user_grants(conn, user_id, owned_clients_entirely=deactivated):
            await record(conn, CredentialRevoked(reason=reason, credential_kind="oauth_access", credential_id=str(jti)))
        await record(conn, CredentialRevoked(reason=reason, user_id=user_id, not_before=not_before.timestamp()))
