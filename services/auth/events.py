"""Recording revocations, so every gateway drops what it cached for a credential or a user.

An event is written to the outbox (auth.revocation_outbox) in the same transaction as the change it announces:
it exists exactly when the change committed, and services/auth/outbox.py puts it on the bus within milliseconds,
or as soon as the broker is reachable again.
"""

from __future__ import annotations

from contextvars import ContextVar

import asyncpg

from services.auth import db
from shared.messages import CredentialRevoked

# The outbox ids written while serving one request, so it can answer once they are on the bus (outbox.py).
recorded_in_request: ContextVar[list[int] | None] = ContextVar("recorded_in_request", default=None)


async def record(conn: asyncpg.Connection, event: CredentialRevoked) -> None:
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

    async def user_weakened(self, conn: asyncpg.Connection, user_id: int, reason: str) -> None:
        await record(conn, CredentialRevoked(reason=reason, user_id=user_id))
