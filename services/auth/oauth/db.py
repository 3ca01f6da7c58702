"""The OAuth tables' queries: async functions taking a connection, SQL with $n parameters only."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from shared.errors import Conflict

# --- developers and clients ------------------------------------------------------------------------------------

_CLIENT_COLUMNS = """c.client_id, c.owner_user_id, c.name, c.kind, c.is_confidential, c.redirect_uris, c.scopes,
    c.grant_types, c.granted_permissions, c.secret_hash, c.secret_rotated_at, c.created_at, c.updated_at"""


async def ensure_developer(conn: asyncpg.Connection, user_id: int, new_key: bytes) -> bytes:
    """Register the user as a developer if not yet; return their per-user key."""
    await conn.execute(
        "INSERT INTO auth.oauth_developers (user_id, secret_key) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
        user_id,
        new_key,
    )
    return bytes(await conn.fetchval("SELECT secret_key FROM auth.oauth_developers WHERE user_id = $1", user_id))


async def get_developer_key(conn: asyncpg.Connection, user_id: int) -> bytes | None:
    value = await conn.fetchval("SELECT secret_key FROM auth.oauth_developers WHERE user_id = $1", user_id)
    return bytes(value) if value is not None else None


async def insert_client(conn: asyncpg.Connection, fields: dict[str, Any]) -> None:
    try:
        await conn.execute(
            """INSERT INTO auth.oauth_clients (client_id, owner_user_id, name, kind, is_confidential, redirect_uris,
                   scopes, grant_types, granted_permissions, secret_hash, secret_encrypted)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            fields["client_id"],
            fields["owner_user_id"],
            fields["name"],
            fields["kind"],
            fields["is_confidential"],
            list(fields["redirect_uris"]),
            list(fields["scopes"]),
            list(fields["grant_types"]),
            sorted(fields["granted_permissions"]),
            fields["secret_hash"],
            fields["secret_encrypted"],
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("A plugin with this name already exists", target="name") from None


async def get_client(conn: asyncpg.Connection, client_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_CLIENT_COLUMNS} FROM auth.oauth_clients c WHERE c.client_id = $1", client_id)


async def get_client_secret_material(conn: asyncpg.Connection, client_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT c.secret_encrypted, d.secret_key FROM auth.oauth_clients c
           JOIN auth.oauth_developers d ON d.user_id = c.owner_user_id WHERE c.client_id = $1""",
        client_id,
    )


async def get_plugin_client_id(conn: asyncpg.Connection, name: str) -> str | None:
    return await conn.fetchval(
        "SELECT client_id FROM auth.oauth_clients WHERE kind = 'plugin' AND lower(name) = lower($1)", name
    )


async def list_plugin_clients(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_CLIENT_COLUMNS}, u.username AS owner_username FROM auth.oauth_clients c
            LEFT JOIN auth.users u ON u.id = c.owner_user_id
            WHERE c.kind = 'plugin' ORDER BY lower(c.name) LIMIT $1""",
        limit,
    )


async def list_clients(conn: asyncpg.Connection, owner_user_id: int | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_CLIENT_COLUMNS} FROM auth.oauth_clients c
            WHERE ($1::bigint IS NULL OR c.owner_user_id = $1) ORDER BY c.created_at, c.client_id LIMIT $2""",
        owner_user_id,
        limit,
    )


async def update_client(conn: asyncpg.Connection, client_id: str, fields: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE auth.oauth_clients SET name = $2, redirect_uris = $3, scopes = $4, grant_types = $5,
               granted_permissions = $6, updated_at = now()
           WHERE client_id = $1""",
        client_id,
        fields["name"],
        list(fields["redirect_uris"]),
        list(fields["scopes"]),
        list(fields["grant_types"]),
        sorted(fields["granted_permissions"]),
    )


async def set_client_secret(conn: asyncpg.Connection, client_id: str, secret_hash: bytes, encrypted: bytes) -> None:
    await conn.execute(
        """UPDATE auth.oauth_clients SET secret_hash = $2, secret_encrypted = $3, secret_rotated_at = now(),
               updated_at = now() WHERE client_id = $1""",
        client_id,
        secret_hash,
        encrypted,
    )


async def delete_client(conn: asyncpg.Connection, client_id: str) -> bool:
    return await conn.execute("DELETE FROM auth.oauth_clients WHERE client_id = $1", client_id) == "DELETE 1"


# --- consents --------------------------------------------------------------------------------------------------


async def put_consent(conn: asyncpg.Connection, user_id: int, client_id: str, scopes: list[str]) -> None:
    await conn.execute(
        """INSERT INTO auth.oauth_consents (user_id, client_id, scopes) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, client_id) DO UPDATE
           SET scopes = ARRAY(SELECT DISTINCT unnest(auth.oauth_consents.scopes || EXCLUDED.scopes)),
               updated_at = now()""",
        user_id,
        client_id,
        scopes,
    )


async def has_consent(conn: asyncpg.Connection, user_id: int, client_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM auth.oauth_consents WHERE user_id = $1 AND client_id = $2", user_id, client_id
        )
    )


async def get_consent_scopes(conn: asyncpg.Connection, user_id: int, client_id: str) -> list[str] | None:
    """The scopes the user allowed the client, or None when there is no consent."""
    return await conn.fetchval(
        "SELECT scopes FROM auth.oauth_consents WHERE user_id = $1 AND client_id = $2", user_id, client_id
    )


async def list_consents(conn: asyncpg.Connection, user_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT g.client_id, c.name, g.scopes, g.created_at, g.updated_at
           FROM auth.oauth_consents g JOIN auth.oauth_clients c ON c.client_id = g.client_id
           WHERE g.user_id = $1 ORDER BY g.created_at, g.client_id""",
        user_id,
    )


async def delete_consent(conn: asyncpg.Connection, user_id: int, client_id: str) -> bool:
    result = await conn.execute(
        "DELETE FROM auth.oauth_consents WHERE user_id = $1 AND client_id = $2", user_id, client_id
    )
    return result == "DELETE 1"


# --- codes -----------------------------------------------------------------------------------------------------


async def insert_code(
    conn: asyncpg.Connection,
    code_hash: bytes,
    client_id: str,
    user_id: int,
    redirect_uri: str,
    redirect_uri_given: bool,
    scopes: list[str],
    code_challenge: str | None,
    ttl_seconds: int,
) -> None:
    await conn.execute(
        """INSERT INTO auth.oauth_codes (code_hash, client_id, user_id, redirect_uri, redirect_uri_given, scopes,
               code_challenge, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))""",
        code_hash,
        client_id,
        user_id,
        redirect_uri,
        redirect_uri_given,
        scopes,
        code_challenge,
        ttl_seconds,
    )


async def consume_code(conn: asyncpg.Connection, code_hash: bytes) -> asyncpg.Record | None:
    """Mark the code used; the row with `first_use` telling whether this was its first presentation."""
    return await conn.fetchrow(
        """WITH before AS (SELECT code_hash, used_at FROM auth.oauth_codes WHERE code_hash = $1 FOR UPDATE)
           UPDATE auth.oauth_codes c SET used_at = COALESCE(c.used_at, now())
           FROM before WHERE c.code_hash = before.code_hash
           RETURNING c.client_id, c.user_id, c.redirect_uri, c.redirect_uri_given, c.scopes, c.code_challenge,
                     c.family_id, c.expires_at > now() AS usable, before.used_at IS NULL AS first_use""",
        code_hash,
    )


async def set_code_family(conn: asyncpg.Connection, code_hash: bytes, family_id: uuid.UUID) -> None:
    await conn.execute("UPDATE auth.oauth_codes SET family_id = $2 WHERE code_hash = $1", code_hash, family_id)


# --- refresh tokens --------------------------------------------------------------------------------------------


async def insert_refresh_token(
    conn: asyncpg.Connection,
    token_hash: bytes,
    family_id: uuid.UUID,
    client_id: str,
    user_id: int,
    scopes: list[str],
    ttl_seconds: int,
    family_expires_at: datetime,
) -> None:
    """A new refresh token of the family: it expires after ttl_seconds, or at the family's end if that comes first."""
    await conn.execute(
        """INSERT INTO auth.oauth_refresh_tokens (token_hash, family_id, client_id, user_id, scopes, family_expires_at,
               expires_at)
           VALUES ($1, $2, $3, $4, $5, $7, LEAST(now() + make_interval(secs => $6), $7))""",
        token_hash,
        family_id,
        client_id,
        user_id,
        scopes,
        ttl_seconds,
        family_expires_at,
    )


async def rotate_refresh_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """Mark the token rotated; `first_use` is False when it had been rotated or revoked before (reuse)."""
    return await conn.fetchrow(
        """WITH before AS (SELECT token_hash, rotated_at, revoked_at FROM auth.oauth_refresh_tokens
                          WHERE token_hash = $1 FOR UPDATE)
           UPDATE auth.oauth_refresh_tokens t SET rotated_at = COALESCE(t.rotated_at, now())
           FROM before WHERE t.token_hash = before.token_hash
           RETURNING t.family_id, t.client_id, t.user_id, t.scopes, t.family_expires_at, t.expires_at > now() AS usable,
                     (before.rotated_at IS NULL AND before.revoked_at IS NULL) AS first_use""",
        token_hash,
    )


async def find_refresh_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT family_id, client_id, user_id, scopes, created_at, expires_at, rotated_at, revoked_at
           FROM auth.oauth_refresh_tokens WHERE token_hash = $1""",
        token_hash,
    )


async def revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID) -> list[asyncpg.Record]:
    """Revoke every refresh and access token of a family; return the access tokens revoked now (jti, user_id)."""
    await conn.execute(
        "UPDATE auth.oauth_refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
    )
    return await conn.fetch(
        """UPDATE auth.oauth_access_tokens SET revoked_at = now()
           WHERE family_id = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING jti, user_id""",
        family_id,
    )


async def revoke_user_client_tokens(conn: asyncpg.Connection, user_id: int, client_id: str) -> list[asyncpg.Record]:
    await conn.execute(
        """UPDATE auth.oauth_refresh_tokens SET revoked_at = now()
           WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL""",
        user_id,
        client_id,
    )
    return await conn.fetch(
        """UPDATE auth.oauth_access_tokens SET revoked_at = now()
           WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL AND expires_at > now()
           RETURNING jti, user_id""",
        user_id,
        client_id,
    )


async def revoke_client_tokens(conn: asyncpg.Connection, client_id: str) -> list[asyncpg.Record]:
    await conn.execute(
        "UPDATE auth.oauth_refresh_tokens SET revoked_at = now() WHERE client_id = $1 AND revoked_at IS NULL",
        client_id,
    )
    return await conn.fetch(
        """UPDATE auth.oauth_access_tokens SET revoked_at = now()
           WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING jti, user_id""",
        client_id,
    )


# --- access tokens ---------------------------------------------------------------------------------------------


async def insert_access_token(
    conn: asyncpg.Connection,
    jti: uuid.UUID,
    family_id: uuid.UUID | None,
    client_id: str,
    user_id: int | None,
    scopes: list[str],
    issued_at: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO auth.oauth_access_tokens (jti, family_id, client_id, user_id, scopes, issued_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        jti,
        family_id,
        client_id,
        user_id,
        scopes,
        issued_at,
        expires_at,
    )


async def get_access_token(conn: asyncpg.Connection, jti: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT jti, family_id, client_id, user_id, expires_at, revoked_at
           FROM auth.oauth_access_tokens WHERE jti = $1""",
        jti,
    )


async def revoke_access_token(conn: asyncpg.Connection, jti: uuid.UUID) -> bool:
    result = await conn.execute(
        "UPDATE auth.oauth_access_tokens SET revoked_at = now() WHERE jti = $1 AND revoked_at IS NULL", jti
    )
    return result == "UPDATE 1"


async def list_revoked_access_tokens(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """The revoked tokens not yet expired; past the limit, those that expire first are left out."""
    return await conn.fetch(
        """SELECT jti, expires_at FROM auth.oauth_access_tokens
           WHERE revoked_at IS NOT NULL AND expires_at > now() ORDER BY expires_at DESC LIMIT $1""",
        limit,
    )


# --- durable revocation of a user's grants ---------------------------------------------------------------------


async def set_user_not_before(conn: asyncpg.Connection, user_id: int, reason: str) -> datetime:
    """Every token of the user issued before now (the database's clock) is refused from now on."""
    return await conn.fetchval(
        """INSERT INTO auth.oauth_user_not_before (user_id, not_before, reason) VALUES ($1, clock_timestamp(), $2)
           ON CONFLICT (user_id) DO UPDATE SET not_before = EXCLUDED.not_before, reason = EXCLUDED.reason
           RETURNING not_before""",
        user_id,
        reason,
    )


async def list_user_not_before(conn: asyncpg.Connection, since_seconds: int, limit: int) -> list[asyncpg.Record]:
    """The users whose not-before time still matters (tokens issued before it may be unexpired), newest first."""
    return await conn.fetch(
        """SELECT user_id, not_before FROM auth.oauth_user_not_before
           WHERE not_before > now() - make_interval(secs => $1) ORDER BY not_before DESC LIMIT $2""",
        since_seconds,
        limit,
    )


async def revoke_user_grants(conn: asyncpg.Connection, user_id: int, owned_clients_entirely: bool) -> list[uuid.UUID]:
    """Revoke the user's own refresh and access tokens, and the tokens the clients they own hold for themselves
    (client credentials, whose rights come from the owner) or, with owned_clients_entirely, every token of those
    clients. Returns the jtis of the revoked client tokens that do not name the user."""
    await conn.execute(
        """UPDATE auth.oauth_refresh_tokens SET revoked_at = now()
           WHERE revoked_at IS NULL AND (user_id = $1 OR ($2 AND client_id IN
                 (SELECT client_id FROM auth.oauth_clients WHERE owner_user_id = $1)))""",
        user_id,
        owned_clients_entirely,
    )
    rows = await conn.fetch(
        """UPDATE auth.oauth_access_tokens SET revoked_at = now()
           WHERE revoked_at IS NULL AND expires_at > now()
             AND (user_id = $1 OR ((user_id IS NULL OR $2) AND client_id IN
                  (SELECT client_id FROM auth.oauth_clients WHERE owner_user_id = $1)))
           RETURNING jti, user_id""",
        user_id,
        owned_clients_entirely,
    )
    return [row["jti"] for row in rows if row["user_id"] != user_id]


async def lock_for_issuing(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    """Hold the user's row (shared) until the tokens being issued are committed, so a concurrent weakening of the
    user either happened before (and is seen here) or waits and then revokes them; with the clock tokens use."""
    if await conn.fetchval("SELECT true FROM auth.users WHERE id = $1 FOR SHARE", user_id) is None:
        return None
    # A statement of its own, after the lock: its snapshot sees what a weakening that held the row committed (a
    # join in the locking statement would read the other tables as they were before the wait).
    return await conn.fetchrow(
        """SELECT u.is_active, n.not_before, clock_timestamp() AS now
           FROM auth.users u LEFT JOIN auth.oauth_user_not_before n ON n.user_id = u.id WHERE u.id = $1""",
        user_id,
    )


async def get_token_standing(conn: asyncpg.Connection, client_id: str, user_id: int | None) -> asyncpg.Record | None:
    """What decides whether a token is still good beyond its own row: its client and that client's owner, and for a
    user's token the user and their consent to the client. None when the client is gone."""
    return await conn.fetchrow(
        """SELECT o.is_active AS owner_active, u.is_active AS user_active, n.not_before,
                  EXISTS (SELECT 1 FROM auth.oauth_consents g WHERE g.user_id = $2 AND g.client_id = c.client_id)
                      AS consented
           FROM auth.oauth_clients c
           JOIN auth.users o ON o.id = c.owner_user_id
           LEFT JOIN auth.users u ON u.id = $2
           LEFT JOIN auth.oauth_user_not_before n ON n.user_id = $2
           WHERE c.client_id = $1""",
        client_id,
        user_id,
    )


# --- signing keys ----------------------------------------------------------------------------------------------


async def insert_signing_key(
    conn: asyncpg.Connection, kid: str, algorithm: str, private_key_encrypted: bytes, public_jwk: dict[str, Any]
) -> None:
    await conn.execute(
        """INSERT INTO auth.oauth_signing_keys (kid, algorithm, private_key_encrypted, public_jwk)
           VALUES ($1, $2, $3, $4::jsonb)""",
        kid,
        algorithm,
        private_key_encrypted,
        json.dumps(public_jwk),
    )


async def get_active_signing_key(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT kid, algorithm, private_key_encrypted FROM auth.oauth_signing_keys WHERE retired_at IS NULL"
    )


async def retire_signing_keys(conn: asyncpg.Connection) -> None:
    await conn.execute("UPDATE auth.oauth_signing_keys SET retired_at = now() WHERE retired_at IS NULL")


async def list_published_signing_keys(conn: asyncpg.Connection, access_token_ttl: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT kid, public_jwk::text AS public_jwk FROM auth.oauth_signing_keys
           WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
           ORDER BY created_at DESC""",
        access_token_ttl,
    )


# --- sessions --------------------------------------------------------------------------------------------------


async def insert_session(
    conn: asyncpg.Connection, id_hash: bytes, user_id: int | None, csrf_token: str, ttl_seconds: int
) -> None:
    await conn.execute(
        """INSERT INTO auth.oauth_sessions (id_hash, user_id, csrf_token, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4))""",
        id_hash,
        user_id,
        csrf_token,
        ttl_seconds,
    )


async def get_session(conn: asyncpg.Connection, id_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT s.user_id, s.csrf_token, u.username, u.is_active
           FROM auth.oauth_sessions s LEFT JOIN auth.users u ON u.id = s.user_id
           WHERE s.id_hash = $1 AND s.expires_at > now()""",
        id_hash,
    )


async def delete_session(conn: asyncpg.Connection, id_hash: bytes) -> None:
    await conn.execute("DELETE FROM auth.oauth_sessions WHERE id_hash = $1", id_hash)


async def delete_expired(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM auth.oauth_sessions WHERE expires_at < now()")
    await conn.execute("DELETE FROM auth.oauth_codes WHERE expires_at < now() - interval '1 day'")
    await conn.execute("DELETE FROM auth.oauth_refresh_tokens WHERE expires_at < now()")
    await conn.execute("DELETE FROM auth.oauth_access_tokens WHERE expires_at < now()")


# --- users (read-only views of the auth schema) ----------------------------------------------------------------


async def get_user_rights(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    """The user's rights, with their not-before time as of this read (a later weakening changes it)."""
    return await conn.fetchrow(
        """SELECT u.id, u.username, u.is_admin, u.is_active, n.not_before,
                  COALESCE((SELECT array_agg(p.resource || ':' || p.action) FROM auth.permissions p
                            WHERE p.user_id = u.id), '{}') AS permissions
           FROM auth.users u LEFT JOIN auth.oauth_user_not_before n ON n.user_id = u.id WHERE u.id = $1""",
        user_id,
    )
