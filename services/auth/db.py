"""The auth schema's queries: async functions taking a connection, SQL with $n parameters only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from shared import outbox
from shared.errors import Conflict
from shared.messages import CredentialRevoked
from shared.outbox import OutboxTable
from shared.platform_events import EVENT_CLASSES, PlatformEvent

_USER_COLUMNS = """u.id, u.username, u.email, u.is_admin, u.is_active, u.created_at, u.updated_at,
    EXISTS (SELECT 1 FROM auth.api_tokens t WHERE t.user_id = u.id) AS api_access_enabled,
    COALESCE((SELECT array_agg(p.resource || ':' || p.action ORDER BY p.resource, p.action)
              FROM auth.permissions p WHERE p.user_id = u.id), '{}') AS permissions"""

# Columns a PATCH may change; the SQL below takes names only from here.
UPDATABLE_USER_COLUMNS = ("email", "is_admin", "is_active")


# --- users -----------------------------------------------------------------------------------------------------


async def insert_user(
    conn: asyncpg.Connection, username: str, email: str | None, password_hash: str | None, is_admin: bool
) -> int:
    try:
        return await conn.fetchval(
            "INSERT INTO auth.users (username, email, password_hash, is_admin) VALUES ($1, $2, $3, $4) RETURNING id",
            username,
            email,
            password_hash,
            is_admin,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("A user with this username already exists", target="username") from None


async def get_user(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM auth.users u WHERE u.id = $1", user_id)


async def get_user_id_by_username(conn: asyncpg.Connection, username: str) -> int | None:
    return await conn.fetchval("SELECT id FROM auth.users WHERE lower(username) = lower($1)", username)


async def get_password_hash(conn: asyncpg.Connection, user_id: int) -> str | None:
    return await conn.fetchval("SELECT password_hash FROM auth.users WHERE id = $1", user_id)


async def list_users(conn: asyncpg.Connection, limit: int, after_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_USER_COLUMNS} FROM auth.users u WHERE u.id > $1 ORDER BY u.id LIMIT $2", after_id, limit
    )


async def update_user(conn: asyncpg.Connection, user_id: int, changes: Mapping[str, Any]) -> None:
    names = [name for name in UPDATABLE_USER_COLUMNS if name in changes]
    if not names:
        return
    assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(names, start=2))
    await conn.execute(
        f"UPDATE auth.users SET {assignments}, updated_at = now() WHERE id = $1",
        user_id,
        *(changes[name] for name in names),
    )


async def set_password_hash(conn: asyncpg.Connection, user_id: int, password_hash: str) -> None:
    await conn.execute(
        "UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1", user_id, password_hash
    )


async def end_sign_in_sessions(conn: asyncpg.Connection, user_id: int, keep_id_hash: bytes | None) -> int:
    """Ends the user's login and panel sessions, except the one whose id hashes to keep_id_hash."""
    result = await conn.execute(
        "DELETE FROM auth.oauth_sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR id_hash <> $2::bytea)",
        user_id,
        keep_id_hash,
    )
    return int(result.split()[-1])


async def revoke_user_refresh_tokens(conn: asyncpg.Connection, user_id: int) -> list[asyncpg.Record]:
    """Revokes the user's OAuth refresh tokens and the access tokens of their families, with every app; returns the
    access tokens revoked now (jti, user_id)."""
    return await conn.fetch(
        """WITH families AS (
               UPDATE auth.oauth_refresh_tokens SET revoked_at = now()
               WHERE user_id = $1 AND revoked_at IS NULL RETURNING family_id)
           UPDATE auth.oauth_access_tokens SET revoked_at = now()
           WHERE family_id IN (SELECT family_id FROM families) AND revoked_at IS NULL AND expires_at > now()
           RETURNING jti, user_id""",
        user_id,
    )


async def get_permissions(conn: asyncpg.Connection, user_id: int) -> frozenset[str]:
    rows = await conn.fetch("SELECT resource, action FROM auth.permissions WHERE user_id = $1", user_id)
    return frozenset(f"{row['resource']}:{row['action']}" for row in rows)


async def replace_permissions(conn: asyncpg.Connection, user_id: int, permissions: Iterable[str]) -> None:
    pairs = [permission.split(":") for permission in sorted(permissions)]
    await conn.execute("DELETE FROM auth.permissions WHERE user_id = $1", user_id)
    await conn.executemany(
        "INSERT INTO auth.permissions (user_id, resource, action) VALUES ($1, $2, $3)",
        [(user_id, resource, action) for resource, action in pairs],
    )


# --- API keys --------------------------------------------------------------------------------------------------

_KEY_COLUMNS = """k.id, k.user_id, u.username, k.name, k.prefix, k.scope, k.created_at, k.expires_at,
    k.revoked_at, k.last_used_at, k.rotated_to"""


async def insert_api_key(
    conn: asyncpg.Connection,
    key_id: uuid.UUID,
    user_id: int,
    name: str,
    prefix: str,
    key_hash: bytes,
    scope: list[str] | None,
    expires_at: datetime | None,
) -> None:
    await conn.execute(
        """INSERT INTO auth.api_keys (id, user_id, name, prefix, key_hash, scope, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        key_id,
        user_id,
        name,
        prefix,
        key_hash,
        scope,
        expires_at,
    )


async def get_api_key(conn: asyncpg.Connection, key_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_KEY_COLUMNS} FROM auth.api_keys k JOIN auth.users u ON u.id = k.user_id WHERE k.id = $1", key_id
    )


async def list_api_keys(conn: asyncpg.Connection, user_id: int | None, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_KEY_COLUMNS} FROM auth.api_keys k JOIN auth.users u ON u.id = k.user_id
            WHERE ($1::bigint IS NULL OR k.user_id = $1)
            ORDER BY k.created_at DESC, k.id LIMIT $2 OFFSET $3""",
        user_id,
        limit,
        offset,
    )


async def revoke_api_key(conn: asyncpg.Connection, key_id: uuid.UUID) -> bool:
    """Revoke a key not yet revoked; False when it already was."""
    result = await conn.execute(
        "UPDATE auth.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return result == "UPDATE 1"


async def shorten_api_key(
    conn: asyncpg.Connection, key_id: uuid.UUID, expires_at: datetime, rotated_to: uuid.UUID
) -> None:
    await conn.execute(
        """UPDATE auth.api_keys SET expires_at = LEAST(COALESCE(expires_at, $2), $2), rotated_to = $3,
                  expiry_announced_at = NULL
           WHERE id = $1""",
        key_id,
        expires_at,
        rotated_to,
    )


async def find_api_key_for_verification(conn: asyncpg.Connection, key_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT k.id, k.user_id, k.key_hash, k.scope, k.expires_at, k.revoked_at,
                  u.username, u.is_admin, u.is_active,
                  COALESCE((SELECT array_agg(p.resource || ':' || p.action) FROM auth.permissions p
                            WHERE p.user_id = u.id), '{}') AS permissions
           FROM auth.api_keys k JOIN auth.users u ON u.id = k.user_id
           WHERE k.key_hash = $1""",
        key_hash,
    )


async def claim_expired_api_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Mark keys that have just expired as announced and return them (one replica wins each key)."""
    return await conn.fetch(
        """UPDATE auth.api_keys SET expiry_announced_at = now()
           WHERE expires_at <= now() AND expiry_announced_at IS NULL AND revoked_at IS NULL
           RETURNING id, user_id"""
    )


async def record_key_usage(
    conn: asyncpg.Connection, key_ids: list[str], used_at: list[datetime]
) -> list[tuple[str, int]]:
    """Set last_used_at; return the (key id, user id) pairs used for the first time."""
    rows = await conn.fetch(
        """WITH used AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)),
                before AS (SELECT k.id, k.last_used_at FROM auth.api_keys k JOIN used ON used.id = k.id FOR UPDATE)
           UPDATE auth.api_keys k SET last_used_at = GREATEST(k.last_used_at, used.at)
           FROM used, before WHERE k.id = used.id AND before.id = used.id
           RETURNING k.id, k.user_id, before.last_used_at IS NULL AS first_use""",
        key_ids,
        used_at,
    )
    return [(str(row["id"]), row["user_id"]) for row in rows if row["first_use"]]


# --- API tokens (Basic) ----------------------------------------------------------------------------------------


async def get_api_token(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT user_id, token_encrypted, created_at, last_used_at FROM auth.api_tokens WHERE user_id = $1", user_id
    )


async def put_api_token(conn: asyncpg.Connection, user_id: int, token_hash: bytes, token_encrypted: bytes) -> None:
    await conn.execute(
        """INSERT INTO auth.api_tokens (user_id, token_hash, token_encrypted) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE
           SET token_hash = EXCLUDED.token_hash, token_encrypted = EXCLUDED.token_encrypted,
               created_at = now(), last_used_at = NULL""",
        user_id,
        token_hash,
        token_encrypted,
    )


async def delete_api_token(conn: asyncpg.Connection, user_id: int) -> bool:
    result = await conn.execute("DELETE FROM auth.api_tokens WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM auth.pending_api_tokens WHERE user_id = $1", user_id)
    return result == "DELETE 1"


async def insert_pending_api_token(
    conn: asyncpg.Connection,
    pending_id: uuid.UUID,
    user_id: int,
    token_hash: bytes,
    token_encrypted: bytes,
    created_by: int | None,
    expires_at: datetime,
) -> None:
    await conn.execute("DELETE FROM auth.pending_api_tokens WHERE user_id = $1 AND expires_at < now()", user_id)
    await conn.execute(
        """INSERT INTO auth.pending_api_tokens (id, user_id, token_hash, token_encrypted, created_by, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        pending_id,
        user_id,
        token_hash,
        token_encrypted,
        created_by,
        expires_at,
    )


async def take_pending_api_token(
    conn: asyncpg.Connection, pending_id: uuid.UUID, user_id: int
) -> asyncpg.Record | None:
    """Consume a pending token of this user that has not expired; any other pending ones are discarded."""
    row = await conn.fetchrow(
        """DELETE FROM auth.pending_api_tokens WHERE id = $1 AND user_id = $2
           RETURNING token_hash, token_encrypted, expires_at > now() AS usable""",
        pending_id,
        user_id,
    )
    if row is None or not row["usable"]:
        return None
    await conn.execute("DELETE FROM auth.pending_api_tokens WHERE user_id = $1", user_id)
    return row


async def find_user_for_basic(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT u.id, u.username, u.is_admin, u.is_active, t.token_hash,
                  COALESCE((SELECT array_agg(p.resource || ':' || p.action) FROM auth.permissions p
                            WHERE p.user_id = u.id), '{}') AS permissions
           FROM auth.users u LEFT JOIN auth.api_tokens t ON t.user_id = u.id
           WHERE lower(u.username) = lower($1)""",
        username,
    )


async def record_token_usage(conn: asyncpg.Connection, user_ids: list[int], used_at: list[datetime]) -> list[int]:
    rows = await conn.fetch(
        """WITH used AS (SELECT * FROM unnest($1::bigint[], $2::timestamptz[]) AS u(user_id, at)),
                before AS (SELECT t.user_id, t.last_used_at FROM auth.api_tokens t
                           JOIN used ON used.user_id = t.user_id FOR UPDATE)
           UPDATE auth.api_tokens t SET last_used_at = GREATEST(t.last_used_at, used.at)
           FROM used, before WHERE t.user_id = used.user_id AND before.user_id = used.user_id
           RETURNING t.user_id, before.last_used_at IS NULL AS first_use""",
        user_ids,
        used_at,
    )
    return [row["user_id"] for row in rows if row["first_use"]]


# --- audit -----------------------------------------------------------------------------------------------------


async def insert_audit(
    conn: asyncpg.Connection,
    event: str,
    *,
    actor_user_id: int | None = None,
    actor: str | None = None,
    subject_user_id: int | None = None,
    credential_id: str | None = None,
    client_ip: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO auth.audit_log (event, actor_user_id, actor, subject_user_id, credential_id, client_ip, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)""",
        event,
        actor_user_id,
        actor,
        subject_user_id,
        credential_id,
        client_ip,
        json.dumps(dict(details or {})),
    )


async def list_audit(
    conn: asyncpg.Connection,
    limit: int,
    before_id: int | None,
    subject_user_id: int | None,
    event: str | None,
    *,
    actor_user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[asyncpg.Record]:
    """Newest first; the next page starts before the last id of this one."""
    return await conn.fetch(
        """SELECT a.id, a.occurred_at, a.event, a.actor_user_id, a.actor, a.subject_user_id, s.username AS subject,
                  a.credential_id, a.client_ip, a.details
           FROM auth.audit_log a LEFT JOIN auth.users s ON s.id = a.subject_user_id
           WHERE ($1::bigint IS NULL OR a.id < $1)
             AND ($2::bigint IS NULL OR a.subject_user_id = $2)
             AND ($3::text IS NULL OR a.event = $3)
             AND ($5::bigint IS NULL OR a.actor_user_id = $5)
             AND ($6::timestamptz IS NULL OR a.occurred_at >= $6)
             AND ($7::timestamptz IS NULL OR a.occurred_at < $7)
           ORDER BY a.id DESC LIMIT $4""",
        before_id,
        subject_user_id,
        event,
        limit,
        actor_user_id,
        since,
        until,
    )


async def lock_user(conn: asyncpg.Connection, user_id: int) -> bool:
    """Serialise credential changes of one user (two admins pressing Save at once)."""
    return await conn.fetchval("SELECT true FROM auth.users WHERE id = $1 FOR UPDATE", user_id) is not None


# --- revocation outbox -----------------------------------------------------------------------------------------

# The revocations, and the platform events for webhook subscribers in the same order as the changes they announce.
REVOCATION_OUTBOX = OutboxTable(
    "auth.revocation_outbox", "auth_revocation_outbox", CredentialRevoked, others=tuple(EVENT_CLASSES.values())
)


async def insert_outbox_event(conn: asyncpg.Connection, event: CredentialRevoked | PlatformEvent) -> int:
    return await outbox.write(conn, REVOCATION_OUTBOX, event)


# --- developer accounts ----------------------------------------------------------------------------------------


async def get_developer_request(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT user_id, reason, requested_at, status, decided_at FROM auth.developer_requests WHERE user_id = $1",
        user_id,
    )


async def put_developer_request(conn: asyncpg.Connection, user_id: int, reason: str, status: str) -> None:
    """A new request, or a declined one asked again."""
    await conn.execute(
        """INSERT INTO auth.developer_requests (user_id, reason, status) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE SET reason = EXCLUDED.reason, status = EXCLUDED.status,
               requested_at = now(), decided_at = NULL, decided_by = NULL""",
        user_id,
        reason,
        status,
    )


async def decide_developer_request(conn: asyncpg.Connection, user_id: int, status: str, decided_by: int | None) -> bool:
    """Only a pending request is decided; False when there is none."""
    result = await conn.execute(
        """UPDATE auth.developer_requests SET status = $2, decided_at = now(), decided_by = $3
           WHERE user_id = $1 AND status = 'pending'""",
        user_id,
        status,
        decided_by,
    )
    return result == "UPDATE 1"


async def list_pending_developer_requests(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT r.user_id, u.username, u.email, r.reason, r.requested_at
           FROM auth.developer_requests r JOIN auth.users u ON u.id = r.user_id
           WHERE r.status = 'pending' ORDER BY r.requested_at LIMIT $1""",
        limit,
    )
