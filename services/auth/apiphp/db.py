"""The api.php queries: codes and tokens, by keyed hash."""

from __future__ import annotations

import uuid

import asyncpg

STALE_CODES_KEPT = "1 day"


async def insert_code(
    conn: asyncpg.Connection,
    code_hash: bytes,
    client_id: str,
    client_name: str,
    user_id: int,
    redirect_uri: str,
    scopes: list[str],
    ttl_seconds: int,
) -> None:
    await conn.execute(
        """INSERT INTO auth.apiphp_codes (code_hash, client_id, client_name, user_id, redirect_uri, scopes, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))""",
        code_hash,
        client_id,
        client_name,
        user_id,
        redirect_uri,
        scopes,
        float(ttl_seconds),
    )


async def purge_stale_codes(conn: asyncpg.Connection) -> None:
    await conn.execute(f"DELETE FROM auth.apiphp_codes WHERE expires_at < now() - interval '{STALE_CODES_KEPT}'")


async def consume_code(conn: asyncpg.Connection, code_hash: bytes) -> asyncpg.Record | None:
    """Marks the code used and returns it as it was; a code already used comes back with used_at set."""
    return await conn.fetchrow(
        """UPDATE auth.apiphp_codes c SET used_at = COALESCE(c.used_at, now())
           FROM (SELECT code_hash, used_at AS previous_use FROM auth.apiphp_codes WHERE code_hash = $1 FOR UPDATE) p
           WHERE c.code_hash = p.code_hash
           RETURNING c.code_hash, c.client_id, c.client_name, c.user_id, c.redirect_uri, c.scopes,
                     c.token_id, c.expires_at <= now() AS expired, p.previous_use""",
        code_hash,
    )


async def link_code_to_token(conn: asyncpg.Connection, code_hash: bytes, token_id: uuid.UUID) -> None:
    await conn.execute("UPDATE auth.apiphp_codes SET token_id = $2 WHERE code_hash = $1", code_hash, token_id)


async def owner_of_token(conn: asyncpg.Connection, token_id: uuid.UUID) -> int | None:
    return await conn.fetchval("SELECT user_id FROM auth.apiphp_tokens WHERE id = $1", token_id)


async def insert_token(
    conn: asyncpg.Connection,
    token_hash: bytes,
    user_id: int,
    client_id: str,
    client_name: str,
    scopes: list[str],
    ttl_seconds: int,
) -> uuid.UUID:
    """ttl_seconds 0: the token never expires."""
    token_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO auth.apiphp_tokens (id, token_hash, user_id, client_id, client_name, scopes, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6,
                   CASE WHEN $7::bigint > 0 THEN now() + make_interval(secs => $7::bigint) END)""",
        token_id,
        token_hash,
        user_id,
        client_id,
        client_name,
        scopes,
        ttl_seconds,
    )
    return token_id


async def find_token_for_verification(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT t.id, t.token_hash, t.client_id, t.scopes, t.revoked_at, t.last_used_at, t.expires_at,
                  t.expires_at IS NOT NULL AND t.expires_at <= now() AS expired,
                  u.id AS user_id, u.username, u.is_admin, u.is_active,
                  COALESCE((SELECT array_agg(p.resource || ':' || p.action) FROM auth.permissions p
                            WHERE p.user_id = u.id), '{}') AS permissions
           FROM auth.apiphp_tokens t JOIN auth.users u ON u.id = t.user_id
           WHERE t.token_hash = $1""",
        token_hash,
    )


async def touch_token(conn: asyncpg.Connection, token_id: uuid.UUID) -> None:
    """Last use, written at most once a minute per token (the gateway caches the answer in between anyway)."""
    await conn.execute(
        """UPDATE auth.apiphp_tokens SET last_used_at = now()
           WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')""",
        token_id,
    )


async def list_tokens(conn: asyncpg.Connection, user_id: int, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, client_id, client_name, scopes, created_at, last_used_at, revoked_at, expires_at
           FROM auth.apiphp_tokens WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3""",
        user_id,
        limit,
        offset,
    )


async def revoke_token(conn: asyncpg.Connection, token_id: uuid.UUID, user_id: int) -> str | None:
    """'revoked' now, 'already' when it was revoked before, None when the user has no such token."""
    row = await conn.fetchrow(
        """UPDATE auth.apiphp_tokens t SET revoked_at = COALESCE(t.revoked_at, now())
           FROM (SELECT id, revoked_at AS before FROM auth.apiphp_tokens WHERE id = $1 AND user_id = $2 FOR UPDATE) p
           WHERE t.id = p.id RETURNING p.before""",
        token_id,
        user_id,
    )
    if row is None:
        return None
    return "already" if row["before"] is not None else "revoked"
